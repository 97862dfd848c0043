/**
 * What a worker accepts as a search trial's job (trial-worker.ts): a TrialSpec whose run and train
 * job have the expected shape; anything else is refused before anything loads, naming the field.
 */
import { expect } from 'chai';
import { checkTrialSpec } from '../src/index.js';

const valid = () => ({
  id: 'trial-0123456789abcdef01234567',
  title: 'run-1 random-trial-0',
  run: { config: { backbone: { name: 'toy' } }, baseDirs: { task: '/data' }, seed: 1, plugins: [] },
  job: {
    kind: 'train',
    id: 'random-trial-0',
    phase: 'search',
    architecture: { modules: [{ type: 'lora', point: 'layer.0.attn.q', rank: 2 }] },
    recipe: {
      epochs: 1,
      batchSize: 8,
      optimizer: 'adamw',
      lr: 0.001,
      schedule: 'linear',
      clipNorm: null,
      evalEvery: 1,
      dropout: 0,
    },
    train: 'search.weight',
    select: 'search.arch',
    score: [],
    seed: 7,
  },
});

describe('trial jobs: what a worker accepts', () => {
  it('accepts a well-formed trial', () => {
    const spec = valid();
    expect(checkTrialSpec(spec)).to.equal(spec);
  });

  const refused: Array<[string, (s: ReturnType<typeof valid>) => void, RegExp]> = [
    ['not an object', () => {}, /the job data must be an object/],
    ['an id with a slash', (s) => (s.id = 'a/b'), /id must be letters, digits/],
    [
      'a run without a seed',
      (s) => delete (s.run as Partial<typeof s.run>).seed,
      /run\.seed must be a non-negative integer/,
    ],
    [
      'plugins that are not names',
      (s) => ((s.run as { plugins: unknown }).plugins = [1]),
      /run\.plugins must be an array/,
    ],
    ['a re-training job', (s) => ((s.job as { phase: string }).phase = 'retrain'), /job\.phase/],
    ['a negative learning rate', (s) => (s.job.recipe.lr = -1), /job\.recipe\.lr/],
    ['an unknown split', (s) => (s.job.train = 'everything'), /job\.train/],
    [
      'a module without a point',
      (s) => delete (s.job.architecture.modules[0] as { point?: string }).point,
      /job\.architecture\.modules\.0/,
    ],
    ['an unexpected field', (s) => ((s.job as Record<string, unknown>).code = 'rm -rf /'), /job/],
  ];
  for (const [what, edit, message] of refused)
    it(`refuses ${what}`, () => {
      const spec = what === 'not an object' ? 'trial' : valid();
      if (typeof spec !== 'string') edit(spec);
      expect(() => checkTrialSpec(spec)).to.throw(message);
    });
});
