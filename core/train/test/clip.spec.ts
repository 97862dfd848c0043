/** Global gradient-norm clipping against hand-computed values of torch.nn.utils.clip_grad_norm_. */
import { expect } from 'chai';
import type { ParamSet } from '@peftkit/api';
import { clipGradNorm, globalNorm } from '../src/index.js';

// Two tensors: a = [3, 4] (norm 5) and b = [12] (norm 12); total = sqrt(9 + 16 + 144) = 13.
const grads = (): ParamSet => ({ a: Float32Array.of(3, 4), b: Float32Array.of(12) });

describe('clipGradNorm (torch.nn.utils.clip_grad_norm_)', () => {
  it('computes the L2 norm over all tensors together', () => {
    expect(globalNorm(grads())).to.equal(13);
    expect(globalNorm({})).to.equal(0);
  });

  it('leaves gradients untouched below the threshold and returns the norm', () => {
    const g = grads();
    expect(clipGradNorm(g, 26)).to.equal(13);
    expect(Array.from(g.a!)).to.deep.equal([3, 4]);
    expect(Array.from(g.b!)).to.deep.equal([12]);
    // maxNorm 13 + 2e-6 exceeds total + 1e-6, so coef = min(1, 13.000002/13.000001) = 1.
    const h = grads();
    clipGradNorm(h, 13 + 2e-6);
    expect(Array.from(h.b!)).to.deep.equal([12]);
  });

  it('scales every tensor by maxNorm/(total + 1e-6) above the threshold', () => {
    // maxNorm 6.5: coef = 6.5/13.000001 = 0.49999996153846…
    //   a = [3, 4]·coef = [1.4999998846153937, 1.9999998461538582], b = 12·coef = 5.999999538461575
    const g = grads();
    expect(clipGradNorm(g, 6.5)).to.equal(13);
    expect(g.a![0]).to.be.closeTo(1.4999998846153937, 1e-6);
    expect(g.a![1]).to.be.closeTo(1.9999998461538582, 1e-6);
    expect(g.b![0]).to.be.closeTo(5.999999538461575, 1e-6);
    // The clipped norm is maxNorm·total/(total + 1e-6), just under 6.5.
    expect(globalNorm(g)).to.be.closeTo(6.5, 1e-6);
  });

  it('scales (barely) at total = maxNorm, as PyTorch does because of the 1e-6', () => {
    // coef = 13/13.000001 = 0.9999999230769291; 12·coef = 11.99999907692315, which float32 rounds
    // to 11.999999046325684 (not 12).
    const g = grads();
    clipGradNorm(g, 13);
    expect(g.b![0]).to.equal(Math.fround(12 * (13 / (13 + 1e-6))));
    expect(g.b![0]).to.be.lessThan(12);
  });

  it('propagates a non-finite norm as NaN, or throws when asked to', () => {
    const g: ParamSet = { a: Float32Array.of(1, Number.POSITIVE_INFINITY), b: Float32Array.of(2) };
    expect(() => clipGradNorm(g, 1, { errorIfNonfinite: true })).to.throw(RangeError, /Infinity.*"a"/);
    expect(Array.from(g.b!)).to.deep.equal([2]);
    // coef = 1/(∞ + 1e-6) = 0: finite entries become 0, ∞·0 = NaN (PyTorch gives the same).
    expect(clipGradNorm(g, 1)).to.equal(Number.POSITIVE_INFINITY);
    expect(Array.from(g.b!)).to.deep.equal([0]);
    expect(Number.isNaN(g.a![1]!)).to.equal(true);
    expect(() => clipGradNorm(grads(), -1)).to.throw(RangeError, /maxNorm/);
  });
});
