/**
 * The Python of the golden cross-checks: `PEFTKIT_PYTHON`, else `<repo>/.venv/bin/python`. Missing,
 * a check skips locally but fails under CI (`process.env.CI`), never silently passing there.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export function pythonForTests(ctx: Mocha.Context): string {
  const python = process.env.PEFTKIT_PYTHON ?? `${REPO_ROOT}.venv/bin/python`;
  if (existsSync(python)) return python;
  const why = `no Python at ${python} (set PEFTKIT_PYTHON, or run bash tools/python/setup.sh)`;
  if (process.env.CI) throw new Error(`${why}: the PyTorch cross-check must run in CI`);
  ctx.skip();
  return python;
}
