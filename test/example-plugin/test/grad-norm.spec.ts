/**
 * grad-norm: the conformance suite of the kit (directly and through the plugin's ContainerModule,
 * in each option), plus its scores against values computed by hand and its option errors.
 */
import type { ImportanceSample } from '@peftkit/api';
import { creator, describeImportanceEstimator, loadContributions, ofKind } from '@peftkit/testing';
import { expect } from 'chai';
import { GradNormEstimator } from '../src/index.js';
import plugin from '../src/plugin.js';

describeImportanceEstimator('grad-norm', () => new GradNormEstimator());

const contributions = await loadContributions(plugin);
for (const options of [{ source: 'arch' }, { source: 'both', normalization: 'size', beta: 0.5 }]) {
  describeImportanceEstimator(
    `grad-norm ${JSON.stringify(options)} (from the plugin)`,
    creator(contributions, ofKind(contributions, 'importance-estimator')[0]!, options),
  );
}

const sample = (id: string, size: number, weight: number[][], arch?: number[][]): ImportanceSample => ({
  id,
  size,
  params: weight.map((g) => new Float32Array(g.length).fill(1)),
  weightGrads: weight.map((g) => Float32Array.from(g)),
  ...(arch ? { archGrads: arch.map((g) => Float32Array.from(g)) } : {}),
});

describe('grad-norm scores (hand-computed)', () => {
  it('is the EMA of ‖g‖₂/√n, with absent modules decaying by β', () => {
    const e = new GradNormEstimator({ beta: 0.5 });
    // a: g = (3, 4) over n = 4 → ‖g‖ = 5, raw 5/2 = 2.5;  b: g = (1, 1, 1, 1), n = 16 → 2/4 = 0.5.
    e.observe(1, [
      sample('a', 4, [[3], [4]]),
      sample('b', 16, [
        [1, 1],
        [1, 1],
      ]),
    ]);
    expect(e.scores().get('a')).to.be.closeTo(1.25, 1e-12);
    expect(e.scores().get('b')).to.be.closeTo(0.25, 1e-12);
    // a: g = (0, 8) → raw 4: 0.5·1.25 + 0.5·4 = 2.625; b absent: 0.5·0.25 = 0.125.
    e.observe(2, [sample('a', 4, [[0], [8]])]);
    expect(e.scores().get('a')).to.be.closeTo(2.625, 1e-12);
    expect(e.scores().get('b')).to.be.closeTo(0.125, 1e-12);
  });

  it('measures the chosen gradients with the chosen normalisation', () => {
    const s = sample('m', 9, [[3, 0, 4]], [[0, 6, 8]]);
    expect(new GradNormEstimator({ source: 'weight' }).raw(s)).to.be.closeTo(5 / 3, 1e-12);
    expect(new GradNormEstimator({ source: 'arch' }).raw(s)).to.be.closeTo(10 / 3, 1e-12);
    expect(new GradNormEstimator({ source: 'both' }).raw(s)).to.be.closeTo(7.5 / 3, 1e-12);
    expect(new GradNormEstimator({ normalization: 'size' }).raw(s)).to.be.closeTo(5 / 9, 1e-12);
    expect(new GradNormEstimator({ normalization: 'none' }).raw(s)).to.be.closeTo(5, 1e-12);
    expect(new GradNormEstimator({ source: 'arch' }).raw(sample('w', 9, [[1]]))).to.equal(0);
  });

  it('rejects bad options and states of other estimators with clear errors', () => {
    expect(() => new GradNormEstimator({ beta: 1 })).to.throw(
      /grad-norm options\.beta: got 1, expected a number in \[0, 1\)/,
    );
    expect(() => new GradNormEstimator({ source: 'val' as never })).to.throw(/options\.source: got "val"/);
    expect(() => new GradNormEstimator().restore({ entries: [] })).to.throw(/not a grad-norm state/);
  });
});
