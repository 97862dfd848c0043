/** Where the engine is installed, and the peftkit repository (workspace) it belongs to, if any. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The engine package directory (core/engine in the repository). */
export const ENGINE_DIR = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The repository root when the engine runs from a peftkit checkout (its package.json declares the
 * workspaces that hold core/ and plugins/), else undefined (the engine was installed from npm).
 */
export function workspaceRoot(): string | undefined {
  const root = resolve(ENGINE_DIR, '..', '..');
  const pkgFile = join(root, 'package.json');
  if (!existsSync(pkgFile)) return undefined;
  try {
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { workspaces?: unknown };
    const ws = Array.isArray(pkg.workspaces) ? pkg.workspaces : [];
    return ws.includes('core/*') ? root : undefined;
  } catch {
    return undefined;
  }
}

/** The engine's package version. */
export function engineVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ENGINE_DIR, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** A path as users should see it: relative to the working directory when inside it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** Walk up from `dir` through every `node_modules` on the way (Node's lookup order). */
export function* nodeModulesDirs(dir: string): Generator<string> {
  let d = resolve(dir);
  while (true) {
    yield join(d, 'node_modules');
    const up = dirname(d);
    if (up === d) return;
    d = up;
  }
}
