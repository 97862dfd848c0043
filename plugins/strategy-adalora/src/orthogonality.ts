/**
 * AdaLoRA's orthogonality regulariser on the singular vectors, computed in TypeScript: its gradient
 * is added to the parameter gradients the program returns (the program computes the task loss only).
 *
 * For a set of r vectors v_1..v_r (the columns of P [in, r], or the rows of Q [r, out]) with Gram
 * matrix G_ij = ⟨v_i, v_j⟩ and M = G − I:
 *   paper form (eq. 4):  R = ‖M‖²_F,  ∂R/∂v_i = 4 Σ_j M_ij v_j
 *   PEFT form:           R = ‖M‖_F,   ∂R/∂v_i = 2 Σ_j M_ij v_j / ‖M‖_F
 * (M is symmetric.) PEFT's AdaLoraModel.forward adds γ·mean over all P and Q matrices of ‖M‖_F; the
 * paper adds γ·Σ over modules of (‖PᵀP − I‖²_F + ‖QQᵀ − I‖²_F).
 */

export type OrthForm = 'paper' | 'peft';

/** Layout of r vectors of length n in a row-major buffer: element a of vector i at a·aStride + i·iStride. */
export interface VectorLayout {
  r: number;
  n: number;
  iStride: number;
  aStride: number;
}

/** Columns of a row-major [rows, r] matrix (P). */
export const columnsOf = (rows: number, r: number): VectorLayout => ({ r, n: rows, iStride: 1, aStride: r });
/** Rows of a row-major [r, cols] matrix (Q). */
export const rowsOf = (r: number, cols: number): VectorLayout => ({ r, n: cols, iStride: cols, aStride: 1 });

/**
 * The penalty of one matrix and, when `grad` is given, `weight`·∂R/∂v added into it (same layout).
 * Accumulates in float64.
 */
export function gramPenalty(
  data: Float32Array,
  l: VectorLayout,
  form: OrthForm,
  grad?: Float32Array,
  weight = 1,
): number {
  const { r, n, iStride, aStride } = l;
  const M = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      let s = 0;
      for (let a = 0; a < n; a++) s += data[a * aStride + i * iStride]! * data[a * aStride + j * iStride]!;
      if (i === j) s -= 1;
      M[i * r + j] = s;
      M[j * r + i] = s;
    }
  }
  let sq = 0;
  for (let k = 0; k < r * r; k++) sq += M[k]! * M[k]!;
  const norm = Math.sqrt(sq);
  const value = form === 'paper' ? sq : norm;
  if (grad) {
    const c = form === 'paper' ? 4 * weight : norm > 0 ? (2 * weight) / norm : 0;
    if (c !== 0) {
      for (let a = 0; a < n; a++) {
        for (let i = 0; i < r; i++) {
          let s = 0;
          for (let j = 0; j < r; j++) s += M[i * r + j]! * data[a * aStride + j * iStride]!;
          const idx = a * aStride + i * iStride;
          grad[idx] = grad[idx]! + c * s;
        }
      }
    }
  }
  return value;
}
