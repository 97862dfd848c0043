/**
 * The fuzz harness: runs one bad input through the CLI's entry function in this process (spawning
 * a node process per case would cost a second each), with captured output, and checks what every
 * bad input must give: the expected exit code, a message naming the place, no stack trace, bounded
 * time and memory, and every file that existed before left as it was.
 */
import { expect } from 'chai';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from 'peftkit';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const CLI = join(ROOT, 'core/cli/bin/peftkit.js');
export const TINY_PLUGIN = join(ROOT, 'test/integration/fixtures/tiny-plugin');
export const FUZZ_PLUGIN = join(ROOT, 'test/fuzz/fixtures/fuzz-plugin');
export const HANG_PLUGIN = join(ROOT, 'test/fuzz/fixtures/hang-plugin');

/** Limits every case must stay within. */
export const CASE_LIMITS = { seconds: 30, heapMB: 512 };

export type Family = 'preset' | 'set' | 'cli' | 'data' | 'model' | 'rundir' | 'plugin';

export interface FuzzCase {
  family: Family;
  name: string;
  /** Write the case's files into `dir` (its working directory); returns the CLI arguments. */
  setup(dir: string): string[];
  /** Expected exit code (1: an error, 2: a usage error). */
  code: number;
  /** What the message must name: the file (and line), field, option, plugin or hook. */
  place: RegExp;
}

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
  heapMB: number;
}

/** Run the CLI in this process with `argv` in `cwd`. */
export async function runCli(argv: readonly string[], cwd: string): Promise<CliOutcome> {
  let stdout = '';
  let stderr = '';
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const code = await main(argv, { out: (t) => void (stdout += t), err: (t) => void (stderr += t) }, cwd);
  return {
    code,
    stdout,
    stderr,
    seconds: (performance.now() - t0) / 1000,
    heapMB: (process.memoryUsage().heapUsed - heap0) / 2 ** 20,
  };
}

/** Every file and directory under `dir` with its size and modification time. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.set(p, 'dir');
        walk(p);
      } else out.set(p, `${st.size}:${st.mtimeMs}`);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** What changed of `before` (new files are allowed: a failed run's new directory, say). */
export function changedSince(before: Map<string, string>, dir: string): string[] {
  const after = snapshot(dir);
  return [...before].filter(([p, v]) => after.get(p) !== v).map(([p]) => p);
}

/** A stack frame line, as a leaked JavaScript stack trace shows them. */
export const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

/** Run one case in `dir` and check everything a bad input must give. */
export async function checkCase(c: FuzzCase, dir: string): Promise<CliOutcome> {
  const argv = c.setup(dir);
  // Runs report progress on the process's stderr; the cases only read the CLI's own output.
  if (['search', 'train', 'compare'].includes(argv[0]!) && !argv.includes('--reporter'))
    argv.push('--reporter', 'quiet');
  const before = snapshot(dir);
  const r = await runCli(argv, dir);
  const shown = `exit ${r.code}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;
  expect(r.code, shown).to.equal(c.code);
  expect(r.stderr, shown).to.match(/^error: /);
  expect(r.stderr, shown).to.match(c.place);
  expect(r.stderr, shown).not.to.match(STACK_FRAME);
  expect(r.stderr.length, 'a short message, not a dump').to.be.below(20_000);
  expect(r.seconds, shown).to.be.below(CASE_LIMITS.seconds);
  expect(r.heapMB, shown).to.be.below(CASE_LIMITS.heapMB);
  expect(changedSince(before, dir), 'files that existed before are unchanged').to.deep.equal([]);
  if (argv.includes('--json')) {
    const doc = JSON.parse(r.stdout) as { error?: { message?: string } };
    expect(doc.error?.message, shown).to.be.a('string');
  }
  return r;
}

export function write(dir: string, name: string, content: string | Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

export function readJson<T = unknown>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** What a case changes of the tiny preset: whole components (YAML flow), and further YAML. */
export interface PresetParts {
  backbone?: string;
  task?: string;
  extra?: string;
}

/** A preset on the tiny fixture backbone and task (runs take seconds), written as `tiny.yaml`. */
export function tinyPreset(dir: string, parts: PresetParts = {}, name = 'tiny.yaml'): string {
  return write(
    dir,
    name,
    `plugins: [${JSON.stringify(TINY_PLUGIN)}, ${JSON.stringify(FUZZ_PLUGIN)}]
backbone: ${parts.backbone ?? '{ name: tiny, options: { hidden: 8 } }'}
task: ${parts.task ?? '{ name: tiny, options: { train: 32, validation: 16, test: 16 } }'}
space: { name: s1, options: { ranks: [1, 2] } }
strategy: { name: fuzz-strategy }
budget: { params: 400 }
seeds: [1]
recipes:
  search: { epochs: 1, batchSize: 16, lr: 0.003 }
  retrain: { epochs: 1, batchSize: 16, lr: 0.003 }
output: { dir: ${JSON.stringify(join(dir, 'runs'))}, name: tiny }
${parts.extra ?? ''}`,
  );
}

/** Directories the cases copy from, made once by the suite's `before` hook. */
export const templates = {
  /** A finished tiny run directory. */
  finishedRun: '',
  /** A small Hugging Face (BERT) checkpoint directory. */
  hfCheckpoint: '',
};
