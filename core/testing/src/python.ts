/**
 * The Python of the golden checks (tests and CI only): `PEFTKIT_PYTHON`, else `<repo>/.venv/bin/python`
 * (made by tools/python/setup.sh). Where it is missing a test may skip locally; in CI (`CI` set) it
 * must fail, so a check that CI is meant to run never silently disappears.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function goldenPython(): string | null {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  for (const p of [process.env.PEFTKIT_PYTHON, join(root, '.venv/bin/python')])
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
