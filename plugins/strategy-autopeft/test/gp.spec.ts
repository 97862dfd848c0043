/**
 * The GP surrogate: it interpolates a known function at its training points with small noise, is
 * uncertain away from them, and its marginal likelihood (and gradient) agrees with a direct
 * computation and with finite differences.
 */
import { expect } from 'chai';
import { Rng } from '@peftkit/api';
import {
  GaussianProcess,
  type GpHyperparameters,
  logMarginalLikelihood,
  matern52,
  standardisation,
} from '../src/index.js';

const f = (x: number) => Math.sin(6 * x) + 0.5 * x;

describe('AutoPEFT Gaussian process', () => {
  it('reproduces a known 1-D function at its training points and is uncertain away from them', () => {
    const X = Array.from({ length: 9 }, (_, i) => [i / 8]);
    const y = X.map(([x]) => f(x!));
    const gp = GaussianProcess.fit(X, y, new Rng(1), { restarts: 3 });
    const { scale } = standardisation(y);
    expect(gp.hyper.noiseVariance).to.be.below(1e-3); // the data are noiseless
    for (let i = 0; i < X.length; i++) {
      const p = gp.predict(X[i]!);
      expect(p.mean).to.be.closeTo(y[i]!, 1e-2);
      expect(Math.sqrt(p.variance)).to.be.below(0.05 * scale);
    }
    // Between the points the interpolation stays close to the function.
    for (const x of [0.0625, 0.4375, 0.8125]) expect(gp.predict([x]).mean).to.be.closeTo(f(x), 0.1);
    // Far away: the posterior reverts to the prior (mean of y, variance σ_f² in y units).
    const far = gp.predict([6]);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    expect(far.mean).to.be.closeTo(mean, 1e-3);
    expect(far.variance).to.be.closeTo(gp.hyper.signalVariance * scale * scale, 1e-6);
    // Uncertainty grows with the distance from the data.
    const sds = [1.05, 1.2, 1.6, 3].map((x) => Math.sqrt(gp.predict([x]).variance));
    for (let i = 1; i < sds.length; i++) expect(sds[i]).to.be.greaterThan(sds[i - 1]!);
    expect(sds[0]).to.be.greaterThan(0.05 * scale);
  });

  it('log marginal likelihood equals the closed form for two points', () => {
    const X = [
      [0.1, 0.7],
      [0.4, 0.2],
    ];
    const y = [0.3, -1.1];
    const h: GpHyperparameters = { lengthscales: [0.5, 2], signalVariance: 1.7, noiseVariance: 0.05 };
    const k12 = h.signalVariance * matern52(X[0]!, X[1]!, h.lengthscales);
    // By hand: r² = (0.3/0.5)² + (0.5/2)² = 0.4225, r = 0.65.
    const r = 0.65;
    expect(k12).to.be.closeTo(
      1.7 * (1 + Math.sqrt(5) * r + (5 / 3) * r * r) * Math.exp(-Math.sqrt(5) * r),
      1e-12,
    );
    const a = h.signalVariance + h.noiseVariance + 1e-8; // the factorisation adds 1e-8 jitter
    const det = a * a - k12 * k12;
    const quad = (a * y[0]! * y[0]! - 2 * k12 * y[0]! * y[1]! + a * y[1]! * y[1]!) / det;
    const expected = -0.5 * quad - 0.5 * Math.log(det) - Math.log(2 * Math.PI);
    expect(logMarginalLikelihood(X, y, h).value).to.be.closeTo(expected, 1e-9);
  });

  it('log marginal likelihood gradient matches finite differences in log space', () => {
    const rng = new Rng(5);
    const X = Array.from({ length: 7 }, () => [rng.next(), rng.next(), rng.next()]);
    const y = X.map(([a, b, c]) => Math.sin(3 * a!) + b! * c! + 0.05 * rng.normal());
    const h: GpHyperparameters = { lengthscales: [0.4, 0.9, 1.6], signalVariance: 0.8, noiseVariance: 0.03 };
    const { gradient } = logMarginalLikelihood(X, y, h);
    const theta = [...h.lengthscales.map(Math.log), Math.log(h.signalVariance), Math.log(h.noiseVariance)];
    const at = (t: number[]) =>
      logMarginalLikelihood(X, y, {
        lengthscales: t.slice(0, 3).map(Math.exp),
        signalVariance: Math.exp(t[3]!),
        noiseVariance: Math.exp(t[4]!),
      }).value;
    const eps = 1e-5;
    theta.forEach((_, j) => {
      const p = theta.slice();
      const m = theta.slice();
      p[j] = p[j]! + eps;
      m[j] = m[j]! - eps;
      const fd = (at(p) - at(m)) / (2 * eps);
      expect(gradient[j], `θ${j}`).to.be.closeTo(fd, 1e-5 * Math.max(1, Math.abs(fd)));
    });
  });

  it('fitting raises the marginal likelihood above the default start and is deterministic', () => {
    const rng = new Rng(8);
    const X = Array.from({ length: 10 }, () => [rng.next(), rng.next()]);
    const y = X.map(([a, b]) => 3 * a! - Math.cos(5 * b!));
    const fitted = GaussianProcess.fit(X, y, new Rng(2));
    const again = GaussianProcess.fit(X, y, new Rng(2));
    expect(again.hyper).to.deep.equal(fitted.hyper);
    const base = new GaussianProcess(X, y, { lengthscales: [1, 1], signalVariance: 1, noiseVariance: 1e-2 });
    expect(fitted.logLikelihood).to.be.greaterThan(base.logLikelihood);
  });
});
