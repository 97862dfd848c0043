/** The one batching rule (trainer and search strategies): epochs, length grouping, determinism. */
import { expect } from 'chai';
import { SplitBatches, batchesPerEpoch, searchBatches } from '../src/batches.js';
import { Rng, deriveSeed } from '../src/rng.js';

const lengths = Int32Array.from({ length: 200 }, (_, i) => 3 + ((i * 37) % 61));
const spread = (batches: readonly number[][]) =>
  batches.reduce(
    (a, b) => a + Math.max(...b.map((i) => lengths[i]!)) - Math.min(...b.map((i) => lengths[i]!)),
    0,
  );
const seedOf = (e: number) => deriveSeed(7, `walk-${e}`);

describe('search kit: SplitBatches', () => {
  it('visits every example once per epoch, grouped or not, with the counted number of batches', () => {
    for (const grouped of [true, false]) {
      for (const [size, batchSize] of [
        [200, 8],
        [200, 7],
        [5, 8],
        [129, 8],
      ] as const) {
        const b = new SplitBatches({
          size,
          lengths: grouped ? lengths.subarray(0, size) : null,
          batchSize,
          seedOf,
        });
        for (const epoch of [0, 3]) {
          const all = b
            .epoch(epoch)
            .flat()
            .sort((x, y) => x - y);
          expect(all).to.deep.equal(Array.from({ length: size }, (_, i) => i));
          expect(b.epoch(epoch)).to.have.length(b.perEpoch);
          expect(b.perEpoch).to.equal(batchesPerEpoch(size, batchSize, grouped));
          for (const batch of b.epoch(epoch)) expect(batch.length).to.be.within(1, batchSize);
        }
      }
    }
  });

  it('without lengths, cuts the epoch permutation in order (the order strategies drew before grouping)', () => {
    const b = new SplitBatches({ size: 50, lengths: null, batchSize: 8, seedOf });
    const perm = new Rng(seedOf(2)).permutation(50);
    expect(b.epoch(2).flat()).to.deep.equal(perm);
    expect(b.at(2, 1)).to.deep.equal(perm.slice(8, 16));
  });

  it('with lengths, sorts each mega-batch of 16 batches by length: far less padding, other epochs differ', () => {
    const grouped = new SplitBatches({ size: 200, lengths, batchSize: 8, seedOf });
    const plain = new SplitBatches({ size: 200, lengths: null, batchSize: 8, seedOf });
    // Two mega-batches (128 + 72 examples), each sorted: the batches' ranges add up to at most two
    // whole ranges (60 each); random batches of 8 span about 45 each, 25 of them.
    expect(spread(grouped.epoch(0))).to.be.at.most(2 * 60);
    expect(spread(plain.epoch(0))).to.be.greaterThan(20 * 30);
    expect(grouped.epoch(1)).to.not.deep.equal(grouped.epoch(0));
    expect(new SplitBatches({ size: 200, lengths, batchSize: 8, seedOf }).epoch(1)).to.deep.equal(
      grouped.epoch(1),
    );
    expect(() => grouped.at(0, grouped.perEpoch)).to.throw(/batch 25 of epoch 0/);
  });

  it('searchBatches groups by the context lengths unless the recipe turns it off', () => {
    const ctx = {
      seed: 7,
      splitSizes: { train: 200, validation: 0, test: 0, 'search.weight': 0, 'search.arch': 0 },
      splitLengths: { train: lengths },
    };
    const on = searchBatches(ctx, 'train', { batchSize: 8 }, 'walk');
    const off = searchBatches(ctx, 'train', { batchSize: 8, groupByLength: false }, 'walk');
    const noLengths = searchBatches({ ...ctx, splitLengths: undefined }, 'train', { batchSize: 8 }, 'walk');
    expect(spread(on.epoch(0))).to.be.at.most(2 * 60);
    expect(off.epoch(0).flat()).to.deep.equal(new Rng(seedOf(0)).permutation(200));
    expect(noLengths.epoch(0)).to.deep.equal(off.epoch(0));
    expect(() => new SplitBatches({ size: 10, lengths, batchSize: 2, seedOf })).to.throw(
      /200 lengths for a split of 10/,
    );
  });
});
