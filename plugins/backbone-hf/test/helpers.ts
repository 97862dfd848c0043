/** Shared test helpers: generated checkpoints, batches, and running the encoder in ONNX Runtime. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backbone, EncoderHooks } from '@peftkit/api';
import { Graph, serialize, tensor } from '@peftkit/graph';
import { identityHooks } from '@peftkit/nn';
import { ortRunner } from './ort.js';
import type { RefBatch } from './reference.js';

export interface MakeOptions {
  type: 'bert' | 'roberta' | 'distilbert';
  out: string;
  layers?: number;
  hidden?: number;
  heads?: number;
  intermediate?: number;
  positions?: number;
  act?: string;
  dtype?: 'F32' | 'F16' | 'BF16';
  taskHead?: boolean;
  seed?: number;
}

export interface CheckpointInfo {
  dir: string;
  vocabSize: number;
  padId: number;
  positions: number;
  hidden: number;
  layers: number;
  intermediate: number;
  typeVocab: number;
}

const TOOL = new URL('../../../../tools/make-hf-checkpoint.mjs', import.meta.url);

/** Temporary directory for generated checkpoints; remove with `cleanup`. */
export function scratch(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'peftkit-hf-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function makeCheckpoint(o: MakeOptions): Promise<CheckpointInfo> {
  const tool = (await import(TOOL.href)) as { makeHfCheckpoint(o: MakeOptions): CheckpointInfo };
  return tool.makeHfCheckpoint(o);
}

export const TOOL_PATH = TOOL;

/** Tokenize items, pad to the longest (right, or left where `leftPad` says), with the mask. */
export function makeBatch(
  backbone: Backbone,
  items: readonly (readonly [string, string?])[],
  leftPad: readonly boolean[] = [],
): RefBatch {
  const enc = items.map(([a, b]) => backbone.tokenizer.encode(a, b));
  const T = Math.max(...enc.map((e) => e.ids.length));
  const padTo = <X>(xs: X[], fill: X, left: boolean): X[] => {
    const extra = new Array<X>(T - xs.length).fill(fill);
    return left ? [...extra, ...xs] : [...xs, ...extra];
  };
  const pad = backbone.tokenizer.padId;
  const hasTypes = enc[0]!.typeIds !== undefined;
  return {
    ids: enc.map((e, i) => padTo(e.ids, pad, leftPad[i] ?? false)),
    mask: enc.map((e, i) =>
      padTo(
        e.ids.map(() => 1),
        0,
        leftPad[i] ?? false,
      ),
    ),
    typeIds: hasTypes ? enc.map((e, i) => padTo(e.typeIds!, 0, leftPad[i] ?? false)) : undefined,
  };
}

/** Build the encoder graph with `hooks` (identity by default), run it, return the pooled rows. */
export async function runEncoder(
  backbone: Backbone,
  batch: RefBatch,
  opts: { train?: boolean; hooks?: (g: Graph) => EncoderHooks; optimization?: 'disabled' | 'all' } = {},
): Promise<number[][]> {
  const g = new Graph('hf-test');
  const ids = g.input('ids', 'int64', ['B', 'T']);
  const mask = g.input('mask', 'float32', ['B', 'T']);
  const typeIds = batch.typeIds ? g.input('type_ids', 'int64', ['B', 'T']) : undefined;
  const hooks = (opts.hooks ?? identityHooks)(g);
  const pooled = backbone.encode(g, { ids, mask, typeIds }, hooks, { train: opts.train ?? false });
  g.output(pooled, 'pooled');
  const B = batch.ids.length;
  const T = batch.ids[0]!.length;
  const feeds = {
    ids: tensor('int64', [B, T], batch.ids.flat()),
    mask: tensor('float32', [B, T], batch.mask.flat()),
    ...(batch.typeIds ? { type_ids: tensor('int64', [B, T], batch.typeIds.flat()) } : {}),
  };
  const run = ortRunner(opts.optimization ?? 'all');
  const out = (await run(serialize(g), feeds, ['pooled'], g)).pooled!;
  const H = out.shape[1]!;
  const data = out.data as Float32Array;
  return Array.from({ length: out.shape[0]! }, (_, b) => Array.from(data.subarray(b * H, (b + 1) * H)));
}

export function maxAbsDiff(a: number[][], b: number[][]): number {
  if (a.length !== b.length) throw new Error(`row counts differ: ${a.length} vs ${b.length}`);
  let m = 0;
  a.forEach((r, i) => {
    if (r.length !== b[i]!.length) throw new Error(`row ${i}: widths differ: ${r.length} vs ${b[i]!.length}`);
    r.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!))));
  });
  return m;
}
