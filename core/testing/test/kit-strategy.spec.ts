/**
 * describeSearchStrategy accepts a correct toy strategy (evaluating sampled architectures through
 * the engine's job runner) and rejects variants that break determinism, resume, the test split,
 * the budget, or plain-data state.
 */
import { expect } from 'chai';
import { describeSearchStrategy } from '../src/index.js';
import { failure, runIsolated } from './isolated.js';
import { type StrategyFlaw, ToyBestOf, toyTypes } from './toys.js';

const space = (backbone: { points: readonly { name: string; kind: string }[] }) => ({
  name: 'toy',
  candidates: backbone.points
    .filter((p) => p.kind === 'linear')
    .flatMap((p) => [
      { id: `toy-lora@${p.name}`, type: 'toy-lora', point: p.name, ranks: [1, 2], options: {} },
      { id: `toy-bias@${p.name}`, type: 'toy-bias', point: p.name, ranks: null, options: {} },
    ]),
});

function suite(flaw: StrategyFlaw) {
  return runIsolated(() =>
    describeSearchStrategy(flaw, () => new ToyBestOf(flaw), {
      types: toyTypes,
      space: (b) => space(b),
      budget: 300,
    }),
  );
}

describe('conformance kit: search strategies', function () {
  this.timeout(60_000);

  it('accepts a correct strategy', async () => {
    const r = await suite('none');
    expect([...r.failed]).to.deep.equal([]);
    expect(r.passed).to.have.length(6);
  });

  const cases: [StrategyFlaw, string, RegExp][] = [
    ['math-random', 'deterministic', /ask #5 .* differs from the reference run's/],
    ['ignores-resume', 'resumes', /resumed \(structuredClone\) after \d+ asks: ask #\d+ .* differs/],
    ['test-split', 'test split', /evaluate.*after the test split|no final model/],
    ['over-budget', 'within the budget', /over the budget of 300/],
    ['rng-in-state', 'protocol', /state\(\) after start must be plain data .*Rng/],
    ['ungrouped-batches', 'grouped by length', /train: with groupByLength .* not grouped by length/],
  ];
  for (const [flaw, test, message] of cases) {
    it(`rejects a strategy with the flaw "${flaw}"`, async () => {
      expect(failure(await suite(flaw), test)).to.match(message);
    });
  }
});
