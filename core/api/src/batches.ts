/**
 * How a split is cut into batches, epoch after epoch: one rule for the trainer and for every
 * search strategy's own batch cursors (part of the search kit), so that `recipe.groupByLength`
 * means the same thing in a search as in training.
 */
import { Rng, deriveSeed } from './rng.js';
import type { DataSplit, SearchContext, TrainRecipe } from './strategy.js';

/** Batches per mega-batch when grouping by length. */
const MEGA = 16;

/** Number of batches `epochBatches` makes of `n` examples. */
export function batchesPerEpoch(n: number, batchSize: number, groupByLength: boolean): number {
  if (!groupByLength) return Math.ceil(n / batchSize);
  const mega = batchSize * MEGA;
  let count = 0;
  for (let i = 0; i < n; i += mega) count += Math.ceil(Math.min(mega, n - i) / batchSize);
  return count;
}

/**
 * One epoch's batches (example indices). The order is `permutation` (drawn by the caller from its
 * seed). With `lengths` (token count per example), consecutive mega-batches of 16 batches are
 * sorted by length (longest first, ties by index) before being cut, and the batches are then
 * shuffled with `shuffle`: batches hold examples of similar length (less padding) while every
 * example is still visited once per epoch. Without `lengths` the permutation is cut in order.
 */
export function epochBatches(
  lengths: ArrayLike<number> | null,
  permutation: readonly number[],
  batchSize: number,
  shuffle: <T>(items: T[]) => T[],
): number[][] {
  const batches: number[][] = [];
  if (!lengths) {
    for (let i = 0; i < permutation.length; i += batchSize) batches.push(permutation.slice(i, i + batchSize));
    return batches;
  }
  const mega = batchSize * MEGA;
  for (let i = 0; i < permutation.length; i += mega) {
    const chunk = permutation.slice(i, i + mega);
    chunk.sort((a, b) => lengths[b]! - lengths[a]! || a - b);
    for (let j = 0; j < chunk.length; j += batchSize) batches.push(chunk.slice(j, j + batchSize));
  }
  return shuffle(batches);
}

export interface SplitBatchesOptions {
  /** Examples in the split. */
  size: number;
  /** Token count per example; null: batches are not grouped by length. */
  lengths: ArrayLike<number> | null;
  batchSize: number;
  /** Seed of epoch `e`'s order (permutation, then batch shuffle, drawn from one stream). */
  seedOf: (epoch: number) => number;
}

/**
 * The batches of one split for any epoch, drawn as the trainer draws them. A strategy keeps its
 * position as plain numbers (epoch, batch index) in its checkpointed state and asks for the batch
 * there; the epoch's batches are computed once and cached.
 */
export class SplitBatches {
  readonly perEpoch: number;
  private cached: { epoch: number; batches: number[][] } | null = null;

  constructor(private readonly o: SplitBatchesOptions) {
    if (o.lengths && o.lengths.length !== o.size)
      throw new Error(`SplitBatches: ${o.lengths.length} lengths for a split of ${o.size} examples`);
    this.perEpoch = batchesPerEpoch(o.size, o.batchSize, o.lengths !== null);
  }

  /** Every batch of epoch `epoch`, in order. */
  epoch(epoch: number): readonly number[][] {
    if (this.cached?.epoch !== epoch) {
      const rng = new Rng(this.o.seedOf(epoch));
      const perm = rng.permutation(this.o.size);
      this.cached = {
        epoch,
        batches: epochBatches(this.o.lengths, perm, this.o.batchSize, (b) => rng.shuffle(b)),
      };
    }
    return this.cached.batches;
  }

  /** The `batch`-th batch of epoch `epoch` (0 ≤ batch < perEpoch). */
  at(epoch: number, batch: number): number[] {
    const out = this.epoch(epoch)[batch];
    if (!out)
      throw new Error(`SplitBatches: batch ${batch} of epoch ${epoch} (an epoch has ${this.perEpoch})`);
    return out;
  }
}

/**
 * A strategy's batches of `split` under `recipe`, grouped by length when the recipe asks for it
 * (`groupByLength`, default true) and the context gives the lengths. `stream` names the random
 * stream: epoch `e` is ordered by `deriveSeed(ctx.seed, `${stream}-${e}`)`.
 */
export function searchBatches(
  ctx: Pick<SearchContext, 'seed' | 'splitSizes' | 'splitLengths'>,
  split: DataSplit,
  recipe: Pick<TrainRecipe, 'batchSize' | 'groupByLength'>,
  stream: string,
): SplitBatches {
  const grouped = recipe.groupByLength ?? true;
  return new SplitBatches({
    size: ctx.splitSizes[split],
    lengths: grouped ? (ctx.splitLengths?.[split] ?? null) : null,
    batchSize: recipe.batchSize,
    seedOf: (epoch) => deriveSeed(ctx.seed, `${stream}-${epoch}`),
  });
}
