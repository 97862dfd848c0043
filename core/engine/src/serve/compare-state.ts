/**
 * The live state of a comparison for the dashboard, from its cells.json (read tolerantly: only the
 * fields the page shows, so cells.json may gain fields), each finished cell's result.json, and
 * compare.json once the comparison has finished (its summary, with whatever statistics it carries).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type CellStatus = 'queued' | 'running' | 'done' | 'failed';

export interface LiveCell {
  label: string;
  task: string;
  budget: string;
  seed: number | null;
  status: CellStatus;
  /** The cell's run directory (absolute), once it started. */
  dir: string | null;
  error?: string;
  /** Of a finished cell, from its result.json. */
  metric?: string;
  test?: Record<string, number>;
  validation?: Record<string, number>;
  trainableParams?: number;
  budgetParams?: number | null;
  searchSeconds?: number;
  searchPasses?: number;
}

export interface CompareState {
  cells: LiveCell[];
  /** compare.json's `summary` and `preset` once the comparison finished (null before). */
  summary: unknown[] | null;
  preset: string | null;
  /** Why cells.json could not be read (it is rewritten atomically, so only a foreign file fails). */
  problem?: string;
}

const str = (v: unknown, fallback = ''): string =>
  typeof v === 'string'
    ? v
    : v && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string'
      ? (v as { name: string }).name
      : fallback;

function readJsonFile(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}

/** Results of finished cells never change: read each once. */
const results = new Map<string, Record<string, unknown>>();

function resultOf(dir: string): Record<string, unknown> | undefined {
  const hit = results.get(dir);
  if (hit) return hit;
  const file = join(dir, 'result.json');
  if (!existsSync(file)) return undefined;
  try {
    const r = readJsonFile(file) as Record<string, unknown>;
    results.set(dir, r);
    return r;
  } catch {
    return undefined;
  }
}

export function compareState(dir: string): CompareState {
  let raw: unknown;
  try {
    raw = readJsonFile(join(dir, 'cells.json'));
  } catch (e) {
    return { cells: [], summary: null, preset: null, problem: `cells.json: ${(e as Error).message}` };
  }
  const list = Array.isArray(raw)
    ? raw
    : Array.isArray((raw as { cells?: unknown })?.cells)
      ? (raw as { cells: unknown[] }).cells
      : [];
  const cells = list.map((c): LiveCell => {
    const o = (c && typeof c === 'object' ? c : {}) as Record<string, unknown>;
    const cellDir = typeof o.dir === 'string' ? o.dir : null;
    const result = cellDir ? resultOf(cellDir) : undefined;
    let status: CellStatus =
      o.status === 'failed'
        ? 'failed'
        : result || o.status === 'done'
          ? 'done'
          : cellDir
            ? 'running'
            : 'queued';
    if (typeof o.status === 'string' && ['queued', 'running'].includes(o.status) && !result)
      status = o.status as CellStatus;
    const cell: LiveCell = {
      label: str(o.label, '?'),
      task: str(o.task),
      budget: str(o.budgetLabel ?? o.budget),
      seed: typeof o.seed === 'number' ? o.seed : null,
      status,
      dir: cellDir,
      ...(typeof o.error === 'string' ? { error: o.error } : {}),
    };
    if (result) {
      const metrics = (result.metrics ?? {}) as {
        test?: Record<string, number>;
        validation?: Record<string, number>;
      };
      const task = (result.task ?? {}) as { metrics?: string[] };
      const timings = (result.timings ?? {}) as { searchSeconds?: number };
      const compute = (result.searchCompute ?? {}) as { gradientJobs?: number; trainSteps?: number };
      Object.assign(cell, {
        metric: task.metrics?.[0] ?? 'accuracy',
        test: metrics.test ?? {},
        validation: metrics.validation ?? {},
        trainableParams: result.trainableParams as number,
        budgetParams: ((result.budget ?? null) as { params?: number } | null)?.params ?? null,
        searchSeconds: timings.searchSeconds ?? 0,
        searchPasses: (compute.gradientJobs ?? 0) + (compute.trainSteps ?? 0),
      });
    }
    return cell;
  });
  let summary: unknown[] | null = null;
  let preset: string | null = null;
  const cmp = join(dir, 'compare.json');
  if (existsSync(cmp)) {
    try {
      const c = readJsonFile(cmp) as { summary?: unknown; preset?: unknown };
      summary = Array.isArray(c.summary) ? c.summary : null;
      preset = typeof c.preset === 'string' ? c.preset : null;
    } catch {
      /* being rewritten: the next change brings it */
    }
  }
  return { cells, summary, preset };
}
