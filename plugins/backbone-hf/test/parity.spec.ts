/**
 * The encoder graph, run in ONNX Runtime, against the independent float64 reference
 * (test/reference.ts) on generated checkpoints of each model type: batches with padding and with
 * sentence pairs, every pooling, non-default activations, half-precision files, task-model names.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { loadHfBackbone } from '../src/index.js';
import { makeBatch, makeCheckpoint, maxAbsDiff, runEncoder, scratch, type MakeOptions } from './helpers.js';
import { referenceForward, type RefPooling } from './reference.js';

const SINGLES: [string][] = [
  ['The river rose slowly after three days of rain.'],
  ['Bread needs flour, water and time!'],
  ['Zebras quickly crossed the flooded bridge'],
  ['Questions?'],
];
const PAIRS: [string, string][] = [
  ['The market opened again.', 'People talked about the storm for weeks.'],
  ['She was not sure the train would leave on time', 'It did, at 7:45.'],
  ['Reading carefully is better.', 'Fold, wait, bake.'],
];

const TOLERANCE = 1e-4;

describe('hf backbone: ONNX graph vs independent float64 reference', function () {
  this.timeout(60_000);
  const tmp = scratch();
  after(() => tmp.cleanup());

  async function check(
    make: Omit<MakeOptions, 'out'>,
    pooling: RefPooling,
    items: readonly (readonly [string, string?])[],
    leftPad: boolean[] = [],
  ): Promise<number> {
    const name = `${make.type}-${make.act ?? 'gelu'}-${make.dtype ?? 'F32'}-${make.taskHead ? 'head' : 'base'}-${make.layers ?? 2}`;
    const dir = join(tmp.dir, name);
    await makeCheckpoint({ ...make, out: dir });
    const backbone = await loadHfBackbone({ path: dir, pooling });
    const batch = makeBatch(backbone, items, leftPad);
    const got = await runEncoder(backbone, batch);
    const want = referenceForward(dir, batch, pooling);
    expect(got).to.have.length(items.length);
    expect(got[0]).to.have.length(backbone.info.pooledSize);
    const diff = maxAbsDiff(got, want);
    expect(diff, `${name} ${pooling}: max |ORT - reference|`).to.be.lessThan(TOLERANCE);
    // The outputs are not degenerate (a constant output would match a constant reference).
    expect(maxAbsDiff([got[0]!], [got[1]!])).to.be.greaterThan(1e-3);
    return diff;
  }

  for (const type of ['bert', 'roberta', 'distilbert'] as const) {
    for (const pooling of ['cls', 'mean', 'pooler'] as const) {
      if (type === 'distilbert' && pooling === 'pooler') continue;
      it(`${type}, ${pooling} pooling, padded single texts`, async () => {
        await check({ type, seed: 11 }, pooling, SINGLES);
      });
    }
    it(`${type}, sentence pairs with padding`, async () => {
      await check({ type, seed: 12, layers: 3 }, 'mean', [...PAIRS, ['Short one.']]);
    });
  }

  it('roberta, left-padded rows: position ids count only non-pad tokens, as transformers does', async () => {
    await check({ type: 'roberta', seed: 13 }, 'mean', SINGLES, [false, true, true, false]);
  });

  it('bert with gelu_new and F16 weights (converted to float32)', async () => {
    await check({ type: 'bert', seed: 14, act: 'gelu_new', dtype: 'F16' }, 'pooler', PAIRS);
  });

  it('roberta with relu and BF16 weights', async () => {
    await check({ type: 'roberta', seed: 15, act: 'relu', dtype: 'BF16' }, 'cls', PAIRS);
  });

  it('distilbert with gelu_pytorch_tanh', async () => {
    await check({ type: 'distilbert', seed: 16, act: 'gelu_pytorch_tanh' }, 'cls', SINGLES);
  });

  for (const type of ['bert', 'roberta', 'distilbert'] as const) {
    it(`${type} task-model checkpoint (prefixed names, classifier head ignored)`, async () => {
      await check({ type, seed: 17, taskHead: true }, 'mean', SINGLES);
    });
  }

  it('the output changes with the weights (the comparison can fail)', async () => {
    const a = join(tmp.dir, 'seed-a');
    const b = join(tmp.dir, 'seed-b');
    await makeCheckpoint({ type: 'bert', out: a, seed: 1 });
    await makeCheckpoint({ type: 'bert', out: b, seed: 2 });
    const backbone = await loadHfBackbone({ path: a });
    const batch = makeBatch(backbone, SINGLES);
    const got = await runEncoder(backbone, batch);
    expect(maxAbsDiff(got, referenceForward(b, batch, 'cls'))).to.be.greaterThan(0.1);
  });
});
