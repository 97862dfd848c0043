/**
 * A Gaussian-process regression surrogate: constant mean (the targets are standardised), ARD
 * Matérn-5/2 kernel plus Gaussian noise,
 *
 *   k(x, x') = σ_f² (1 + √5 r + 5r²/3) e^{−√5 r},   r² = Σ_d (x_d − x'_d)² / ℓ_d²,
 *   K = k(X, X) + σ_n² I,
 *
 * with the hyperparameters θ = (log ℓ_1..D, log σ_f², log σ_n²) chosen by maximising the log
 * marginal likelihood
 *
 *   log p(y | X, θ) = −½ yᵀK⁻¹y − Σ_i log L_ii − (n/2) log 2π      (K = LLᵀ)
 *
 * whose gradient is ½ tr((ααᵀ − K⁻¹) ∂K/∂θ_j), α = K⁻¹y, by Adam in log space from a few starts
 * (a fixed default, seeded random ones within the bounds, and an optional warm start), clamped to
 * the bounds. Linear algebra (Cholesky, solves) is ml-matrix's.
 *
 * `predict` returns the latent function's mean and variance (noise excluded), in the units of y.
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import type { Rng } from '@peftkit/api';

export interface GpHyperparameters {
  lengthscales: number[];
  signalVariance: number;
  noiseVariance: number;
}

export interface GpBounds {
  lengthscale: [number, number];
  signalVariance: [number, number];
  noiseVariance: [number, number];
}

export const DEFAULT_BOUNDS: GpBounds = {
  lengthscale: [0.05, 20],
  signalVariance: [0.05, 20],
  noiseVariance: [1e-6, 1],
};

export interface GpFitOptions {
  /** Random starts besides the default one (and the warm start). */
  restarts?: number;
  /** Adam iterations per start. */
  iterations?: number;
  learningRate?: number;
  bounds?: GpBounds;
  /** Hyperparameters of an earlier fit, used as one more start. */
  warmStart?: GpHyperparameters | null;
}

const SQRT5 = Math.sqrt(5);
const JITTER = 1e-8;

/** Matérn-5/2 correlation (σ_f² = 1) between two points. */
export function matern52(
  x: readonly number[],
  y: readonly number[],
  lengthscales: readonly number[],
): number {
  let r2 = 0;
  for (let d = 0; d < x.length; d++) {
    const t = (x[d]! - y[d]!) / lengthscales[d]!;
    r2 += t * t;
  }
  const r = Math.sqrt(r2);
  return (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
}

interface Factorised {
  chol: CholeskyDecomposition;
  lower: number[][];
}

function factorise(K: number[][]): Factorised | null {
  for (let k = 0; k <= 5; k++) {
    const jitter = JITTER * 10 ** k;
    const A = K.map((row, i) => row.map((v, j) => (i === j ? v + jitter : v)));
    const chol = new CholeskyDecomposition(new Matrix(A));
    if (chol.isPositiveDefinite()) return { chol, lower: chol.lowerTriangularMatrix.to2DArray() };
  }
  return null;
}

function kernelMatrix(X: readonly number[][], h: GpHyperparameters): number[][] {
  const n = X.length;
  const K: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = h.signalVariance * matern52(X[i]!, X[j]!, h.lengthscales);
      K[i]![j] = v;
      K[j]![i] = v;
    }
    K[i]![i] = K[i]![i]! + h.noiseVariance;
  }
  return K;
}

/** Log marginal likelihood of standardised targets and its gradient in θ = (log ℓ, log σ_f², log σ_n²). */
export function logMarginalLikelihood(
  X: readonly number[][],
  y: readonly number[],
  h: GpHyperparameters,
): { value: number; gradient: number[] } {
  const n = X.length;
  const D = h.lengthscales.length;
  const f = factorise(kernelMatrix(X, h));
  if (!f) return { value: -Infinity, gradient: new Array<number>(D + 2).fill(0) };
  const alpha = f.chol.solve(Matrix.columnVector([...y])).to1DArray();
  const Kinv = f.chol.solve(Matrix.eye(n)).to2DArray();
  let value = -0.5 * y.reduce((s, yi, i) => s + yi * alpha[i]!, 0) - 0.5 * n * Math.log(2 * Math.PI);
  for (let i = 0; i < n; i++) value -= Math.log(f.lower[i]![i]!);
  // W = ααᵀ − K⁻¹; ∂LML/∂θ_j = ½ Σ_ab W_ab ∂K_ab/∂θ_j.
  const gradient = new Array<number>(D + 2).fill(0);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      const W = alpha[a]! * alpha[b]! - Kinv[a]![b]!;
      const xa = X[a]!;
      const xb = X[b]!;
      let r2 = 0;
      for (let d = 0; d < D; d++) {
        const t = (xa[d]! - xb[d]!) / h.lengthscales[d]!;
        r2 += t * t;
      }
      const r = Math.sqrt(r2);
      const e = Math.exp(-SQRT5 * r);
      // ∂k/∂log ℓ_d = σ_f² (5/3)(1 + √5 r) e^{−√5 r} · (Δ_d/ℓ_d)²  (finite at r = 0).
      const common = h.signalVariance * (5 / 3) * (1 + SQRT5 * r) * e;
      for (let d = 0; d < D; d++) {
        const t = (xa[d]! - xb[d]!) / h.lengthscales[d]!;
        gradient[d] = gradient[d]! + 0.5 * W * common * t * t;
      }
      gradient[D] = gradient[D]! + 0.5 * W * h.signalVariance * (1 + SQRT5 * r + (5 / 3) * r2) * e;
      if (a === b) gradient[D + 1] = gradient[D + 1]! + 0.5 * W * h.noiseVariance;
    }
  }
  return { value, gradient };
}

function toTheta(h: GpHyperparameters): number[] {
  return [...h.lengthscales.map(Math.log), Math.log(h.signalVariance), Math.log(h.noiseVariance)];
}

function fromTheta(theta: readonly number[], D: number): GpHyperparameters {
  return {
    lengthscales: theta.slice(0, D).map(Math.exp),
    signalVariance: Math.exp(theta[D]!),
    noiseVariance: Math.exp(theta[D + 1]!),
  };
}

export class GaussianProcess {
  private readonly yMean: number;
  private readonly yScale: number;
  private readonly lower: number[][];
  private readonly alpha: number[];
  /** Log marginal likelihood of the standardised targets at these hyperparameters. */
  readonly logLikelihood: number;

  constructor(
    readonly X: readonly number[][],
    readonly y: readonly number[],
    readonly hyper: GpHyperparameters,
  ) {
    if (X.length === 0 || X.length !== y.length) {
      throw new Error(
        `GaussianProcess: need as many targets as inputs (≥ 1), got ${X.length} and ${y.length}`,
      );
    }
    const { mean, scale } = standardisation(y);
    this.yMean = mean;
    this.yScale = scale;
    const ys = y.map((v) => (v - mean) / scale);
    const f = factorise(kernelMatrix(X, hyper));
    if (!f) throw new Error('GaussianProcess: the kernel matrix is not positive definite even with jitter');
    this.lower = f.lower;
    this.alpha = f.chol.solve(Matrix.columnVector(ys)).to1DArray();
    this.logLikelihood = logMarginalLikelihood(X, ys, hyper).value;
  }

  /** Fit the hyperparameters by maximising the log marginal likelihood, then condition on the data. */
  static fit(
    X: readonly number[][],
    y: readonly number[],
    rng: Rng,
    options: GpFitOptions = {},
  ): GaussianProcess {
    const D = X[0]?.length ?? 0;
    const bounds = options.bounds ?? DEFAULT_BOUNDS;
    const iterations = options.iterations ?? 150;
    const lr = options.learningRate ?? 0.05;
    const { mean, scale } = standardisation(y);
    const ys = y.map((v) => (v - mean) / scale);
    const lo = [
      ...new Array<number>(D).fill(Math.log(bounds.lengthscale[0])),
      Math.log(bounds.signalVariance[0]),
      Math.log(bounds.noiseVariance[0]),
    ];
    const hi = [
      ...new Array<number>(D).fill(Math.log(bounds.lengthscale[1])),
      Math.log(bounds.signalVariance[1]),
      Math.log(bounds.noiseVariance[1]),
    ];
    const clamp = (t: number[]) => t.map((v, i) => Math.min(hi[i]!, Math.max(lo[i]!, v)));
    const starts: number[][] = [
      clamp(toTheta({ lengthscales: new Array<number>(D).fill(1), signalVariance: 1, noiseVariance: 1e-2 })),
    ];
    if (options.warmStart && options.warmStart.lengthscales.length === D)
      starts.push(clamp(toTheta(options.warmStart)));
    for (let s = 0; s < (options.restarts ?? 3); s++) starts.push(lo.map((l, i) => rng.uniform(l, hi[i]!)));

    let best: { theta: number[]; value: number } | null = null;
    for (const start of starts) {
      let theta = start.slice();
      const m = new Array<number>(theta.length).fill(0);
      const v = new Array<number>(theta.length).fill(0);
      for (let it = 1; it <= iterations + 1; it++) {
        const { value, gradient } = logMarginalLikelihood(X, ys, fromTheta(theta, D));
        if (Number.isFinite(value) && (best === null || value > best.value))
          best = { theta: theta.slice(), value };
        if (it > iterations || !Number.isFinite(value)) break;
        // Adam ascent step.
        theta = clamp(
          theta.map((t, i) => {
            m[i] = 0.9 * m[i]! + 0.1 * gradient[i]!;
            v[i] = 0.999 * v[i]! + 0.001 * gradient[i]! * gradient[i]!;
            const mh = m[i]! / (1 - 0.9 ** it);
            const vh = v[i]! / (1 - 0.999 ** it);
            return t + (lr * mh) / (Math.sqrt(vh) + 1e-8);
          }),
        );
      }
    }
    if (!best) throw new Error('GaussianProcess.fit: no start gave a finite marginal likelihood');
    return new GaussianProcess(X, y, fromTheta(best.theta, D));
  }

  /** Posterior mean and variance of the latent function at x (units of y; noise excluded). */
  predict(x: readonly number[]): { mean: number; variance: number } {
    const n = this.X.length;
    const k = this.X.map((xi) => this.hyper.signalVariance * matern52(x, xi, this.hyper.lengthscales));
    let mu = 0;
    for (let i = 0; i < n; i++) mu += k[i]! * this.alpha[i]!;
    // v = L⁻¹k by forward substitution; var = k(x, x) − vᵀv.
    const v = new Array<number>(n).fill(0);
    let vv = 0;
    for (let i = 0; i < n; i++) {
      let s = k[i]!;
      const row = this.lower[i]!;
      for (let j = 0; j < i; j++) s -= row[j]! * v[j]!;
      v[i] = s / row[i]!;
      vv += v[i]! * v[i]!;
    }
    const variance = Math.max(0, this.hyper.signalVariance - vv);
    return { mean: this.yMean + this.yScale * mu, variance: this.yScale * this.yScale * variance };
  }
}

/** Mean and standard deviation used to standardise targets (scale 1 for fewer than two distinct values). */
export function standardisation(y: readonly number[]): { mean: number; scale: number } {
  const n = y.length;
  const mean = y.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const variance = y.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n);
  const scale = Math.sqrt(variance);
  return { mean, scale: scale > 1e-12 ? scale : 1 };
}
