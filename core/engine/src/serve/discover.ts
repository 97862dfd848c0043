/**
 * What `peftkit serve` lists: run directories (they hold run.json) and comparison directories
 * (cells.json) under the served roots, a few levels deep. A comparison's cell runs are listed with
 * the comparison, not again on their own. Only directory listings and small status files are read.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Listed {
  kind: 'run' | 'compare';
  /** `<root index>/<path relative to the root>`: what the page asks for. */
  id: string;
  name: string;
  /** Absolute path. */
  path: string;
  /** run: finished (result.json), or running (possibly interrupted: see `updatedAt`). compare: finished (compare.json) or running. */
  status: 'running' | 'finished';
  /** Last change of the journal (run) or cells.json (comparison), ms since the epoch. */
  updatedAt: number;
}

const MAX_DEPTH = 3;

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, 'run.json'));
}

export function isCompareDir(dir: string): boolean {
  return existsSync(join(dir, 'cells.json'));
}

export function listDirs(roots: readonly string[]): Listed[] {
  const out: Listed[] = [];
  const visit = (rootIndex: number, dir: string, depth: number) => {
    const id = `${rootIndex}/${relative(roots[rootIndex]!, dir).split('\\').join('/')}`;
    const name = relative(roots[rootIndex]!, dir) || dir;
    if (isRunDir(dir)) {
      out.push({
        kind: 'run',
        id,
        name,
        path: dir,
        status: existsSync(join(dir, 'result.json')) ? 'finished' : 'running',
        updatedAt: mtime(join(dir, 'journal.jsonl')),
      });
      return;
    }
    if (isCompareDir(dir)) {
      out.push({
        kind: 'compare',
        id,
        name,
        path: dir,
        status: existsSync(join(dir, 'compare.json')) ? 'finished' : 'running',
        updatedAt: mtime(join(dir, 'cells.json')),
      });
      return;
    }
    if (depth >= MAX_DEPTH) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      if (n.startsWith('.') || n === 'node_modules' || n === 'checkpoints' || n === 'tensorboard') continue;
      const p = join(dir, n);
      try {
        if (statSync(p).isDirectory()) visit(rootIndex, p, depth + 1);
      } catch {
        /* vanished */
      }
    }
  };
  roots.forEach((r, i) => visit(i, r, 0));
  return out.sort((a, b) => b.updatedAt - a.updatedAt);
}

/** The directory a page's id names, only if it lies inside that root (no `..` escapes). */
export function resolveId(roots: readonly string[], id: string): string | null {
  const slash = id.indexOf('/');
  const root = roots[Number(slash < 0 ? id : id.slice(0, slash))];
  if (!root) return null;
  const rest = slash < 0 ? '' : id.slice(slash + 1);
  const path = join(root, rest);
  const rel = relative(root, path);
  if (rel.startsWith('..') || rest.split('/').includes('..')) return null;
  return path;
}
