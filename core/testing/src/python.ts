/**
 * The Python of the golden checks (tests and CI only): `PEFTKIT_PYTHON`, else `<repo>/.venv/bin/python`
 * (made by tools/python/setup.sh). Where it is missing a test may skip locally; in CI (`CI` set) it
 * must fail, so a check that CI is meant to run never silently disappears.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  // This file runs as core/testing/dist/src/python.js: the root is four levels up.
  return fileURLToPath(new URL('../../../../', import.meta.url));
}

export function goldenPython(): string | null {
  for (const p of [process.env.PEFTKIT_PYTHON, join(repoRoot(), '.venv/bin/python')])
    if (p && existsSync(p)) return p;
  return null;
}

/** The golden Python for a mocha suite: skips it locally when missing, throws in CI. */
export function requireGoldenPython(suite: Mocha.Context): string {
  const py = goldenPython();
  if (py) return py;
  const why =
    'no Python for the golden checks: set PEFTKIT_PYTHON or run `bash tools/python/setup.sh` (makes .venv/)';
  if (process.env.CI) throw new Error(why);
  suite.skip();
  throw new Error(why); // not reached: skip() throws
}

/** Run a script of tools/python with arguments; resolves to its stdout, rejects with its stderr. */
export function runPythonTool(
  python: string,
  script: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const file = join(repoRoot(), 'tools', 'python', script);
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      python,
      [file, ...args],
      {
        maxBuffer: 256 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 300_000,
        env: {
          ...process.env,
          HF_HUB_OFFLINE: '1',
          TRANSFORMERS_VERBOSITY: 'error',
          HF_HUB_DISABLE_PROGRESS_BARS: '1',
          OMP_NUM_THREADS: '1',
        },
      },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
        else resolvePromise(stdout);
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

let fixtures: Promise<string> | undefined;

/**
 * The golden Hugging Face fixtures (tools/python/hf_fixtures.py): tiny checkpoints of every
 * supported architecture made by transformers, and golden.json. Made once per script version in a
 * cache folder under the OS temp directory, shared by the suites of one test run and later runs.
 */
export function hfFixtures(python: string): Promise<string> {
  fixtures ??= (async () => {
    const script = join(repoRoot(), 'tools', 'python', 'hf_fixtures.py');
    const hash = createHash('sha256').update(readFileSync(script)).update(python).digest('hex').slice(0, 16);
    const dir = join(tmpdir(), `peftkit-hf-fixtures-${hash}`);
    // golden.json is written last: without it the folder is an interrupted attempt. The folder is
    // made in place because the adapters in it record their base model's absolute path.
    if (existsSync(join(dir, 'golden.json'))) return dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await runPythonTool(python, 'hf_fixtures.py', [dir]);
    return dir;
  })();
  return fixtures;
}
