/**
 * The finite-difference Hessian-vector product and the second-order DARTS gradient on toys whose
 * exact quantities are known in closed form.
 *
 * Quadratic toy: L_train(w, a) = ½ wᵀAw + aᵀCw + bᵀw, so ∇_a L_train = Cw and the mixed product
 * ∇²_{a,w} L_train · v = Cv exactly. Bi-level toy: with an SGD virtual step w'(a) = w − ξ∇_w L_train
 * (exact for a quadratic), d/da L_val(w'(a), a) = ∇_a L_val(w') − ξ·C·∇_{w'} L_val(w'), which the
 * assembled gradient must match; it is also checked against finite differences of the whole
 * unrolled objective.
 */
import { expect } from 'chai';
import type { ParamSet } from '@peftkit/api';
import { Rng } from '@peftkit/api';
import { addScaled, finiteDifferenceHvp, hvpEpsilon, paramNorm, unrolledArchGradient } from '../src/index.js';

const M = 7; // weights, split over two tensors (4 + 3)
const K = 3; // architecture logits

function randomMatrix(rng: Rng, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()));
}

function flat(w: ParamSet): number[] {
  return [...w.x!, ...w.y!];
}

function toParams(v: number[]): ParamSet {
  return { x: Float32Array.from(v.slice(0, 4)), y: Float32Array.from(v.slice(4)) };
}

function matVec(A: number[][], v: number[]): number[] {
  return A.map((row) => row.reduce((s, x, j) => s + x * v[j]!, 0));
}

function setup(seed: number) {
  const rng = new Rng(seed);
  const B = randomMatrix(rng, M, M);
  // A = BᵀB/M + I: symmetric positive definite.
  const A = Array.from({ length: M }, (_, i) =>
    Array.from({ length: M }, (_, j) => B.reduce((s, r) => s + r[i]! * r[j]!, 0) / M + (i === j ? 1 : 0)),
  );
  const C = randomMatrix(rng, K, M);
  const b = Array.from({ length: M }, () => rng.normal());
  const t = Array.from({ length: M }, () => rng.normal());
  const e = randomMatrix(rng, K, M);
  const w = toParams(Array.from({ length: M }, () => rng.normal()));
  const a = Array.from({ length: K }, () => rng.normal());
  return { A, C, b, t, e, w, a };
}

describe('S3Delta finite-difference Hessian-vector product', () => {
  it('equals the exact mixed second derivative C·v on a quadratic', () => {
    const { C, w } = setup(1);
    const rng = new Rng(2);
    for (let trial = 0; trial < 5; trial++) {
      const v = toParams(Array.from({ length: M }, () => rng.normal() * 10 ** (trial - 2)));
      const eps = hvpEpsilon(v);
      // ε moves the weights by 0.01 in norm, as in the released code.
      expect(eps * paramNorm(v)).to.be.closeTo(0.01, 1e-6);
      const gradA = (p: ParamSet) => matVec(C, flat(p)); // ∇_a L_train(w, a) = Cw
      const hvp = finiteDifferenceHvp(gradA(addScaled(w, v, eps)), gradA(addScaled(w, v, -eps)), eps);
      const exact = matVec(C, flat(v));
      const scale = Math.max(...exact.map(Math.abs));
      // The perturbed weights are stored in float32: the quotient carries ~1e-5 relative noise.
      for (let i = 0; i < K; i++) expect(hvp[i]).to.be.closeTo(exact[i]!, 1e-4 * scale);
    }
  });

  it('is second-order accurate on a non-quadratic loss, L = Σ_i a_i sin(c_iᵀw)', () => {
    const { C, w } = setup(3);
    const rng = new Rng(4);
    const v = toParams(Array.from({ length: M }, () => rng.normal()));
    const eps = hvpEpsilon(v);
    const gradA = (p: ParamSet) => matVec(C, flat(p)).map(Math.sin);
    const hvp = finiteDifferenceHvp(gradA(addScaled(w, v, eps)), gradA(addScaled(w, v, -eps)), eps);
    const cw = matVec(C, flat(w));
    const cv = matVec(C, flat(v));
    const exact = cw.map((x, i) => Math.cos(x) * cv[i]!);
    for (let i = 0; i < K; i++)
      expect(hvp[i]).to.be.closeTo(exact[i]!, 2e-3 * Math.max(1, Math.abs(exact[i]!)));
  });

  it('assembles the exact unrolled architecture gradient of a bi-level quadratic toy', () => {
    const { A, C, b, t, e, w, a } = setup(5);
    const xi = 0.05;
    const w0 = flat(w);
    // ∇_w L_train(w, a) = Aw + Cᵀa + b
    const gradW = (wv: number[], av: number[]) =>
      matVec(A, wv).map((x, i) => x + b[i]! + av.reduce((s, ak, k) => s + ak * C[k]![i]!, 0));
    // L_val(w, a) = ½‖w − t‖² + Σ_k a_k² (eₖᵀw) / 2 ; ∇_w and ∇_a of it:
    const lval = (wv: number[], av: number[]) =>
      0.5 * wv.reduce((s, x, i) => s + (x - t[i]!) ** 2, 0) +
      0.5 * av.reduce((s, ak, k) => s + ak * ak * matVec([e[k]!], wv)[0]!, 0);
    const lvalGradW = (wv: number[], av: number[]) =>
      wv.map((x, i) => x - t[i]! + 0.5 * av.reduce((s, ak, k) => s + ak * ak * e[k]![i]!, 0));
    const lvalGradA = (wv: number[], av: number[]) => av.map((ak, k) => ak * matVec([e[k]!], wv)[0]!);
    const unrolled = (av: number[]) => {
      const g = gradW(w0, av);
      return w0.map((x, i) => x - xi * g[i]!);
    };

    // The strategy's route: w' by an SGD virtual step, v = ∇_{w'} L_val, the FD-HVP, then assembly.
    const wPrime = unrolled(a);
    const v = toParams(lvalGradW(wPrime, a));
    const eps = hvpEpsilon(v);
    const gradATrain = (p: ParamSet) => matVec(C, flat(p)); // ∇_a L_train = Cw (+ nothing from a: linear)
    const hvp = finiteDifferenceHvp(gradATrain(addScaled(w, v, eps)), gradATrain(addScaled(w, v, -eps)), eps);
    const assembled = unrolledArchGradient(lvalGradA(wPrime, a), hvp, xi);

    // Closed form: ∇_a L_val(w') − ξ·C·∇_{w'} L_val(w').
    const cv = matVec(C, lvalGradW(wPrime, a));
    const closed = lvalGradA(wPrime, a).map((g, k) => g - xi * cv[k]!);
    // Finite differences of the whole unrolled objective J(a) = L_val(w'(a), a).
    const h = 1e-6;
    const fd = a.map((_, k) => {
      const ap = a.slice();
      const am = a.slice();
      ap[k] = ap[k]! + h;
      am[k] = am[k]! - h;
      return (lval(unrolled(ap), ap) - lval(unrolled(am), am)) / (2 * h);
    });
    for (let k = 0; k < K; k++) {
      expect(closed[k]).to.be.closeTo(fd[k]!, 1e-6 * Math.max(1, Math.abs(fd[k]!)));
      expect(assembled[k]).to.be.closeTo(closed[k]!, 1e-4 * Math.max(1, Math.abs(closed[k]!)));
    }
    // And the Hessian term matters: the first-order gradient differs from the unrolled one.
    const firstOrder = lvalGradA(wPrime, a);
    expect(Math.max(...firstOrder.map((g, k) => Math.abs(g - closed[k]!)))).to.be.greaterThan(1e-3);
  });

  it('addScaled leaves tensors without a direction unchanged and checks lengths', () => {
    const w = { x: Float32Array.from([1, 2]), head: Float32Array.from([3]) };
    const out = addScaled(w, { x: Float32Array.from([1, 1]) }, 0.5);
    expect(Array.from(out.x!)).to.deep.equal([1.5, 2.5]);
    expect(Array.from(out.head!)).to.deep.equal([3]);
    expect(out.head).to.not.equal(w.head);
    expect(() => addScaled(w, { x: Float32Array.from([1]) }, 1)).to.throw(
      /"x" has 2 values but the direction 1/,
    );
  });
});
