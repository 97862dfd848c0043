/** Shared by the BIPEFT unit tests. */

/** Central finite-difference gradient of f at x (float64). */
export function numericGrad(f: (x: number[]) => number, x: readonly number[], h = 1e-6): number[] {
  return x.map((_, i) => {
    const p = [...x];
    const m = [...x];
    p[i] = p[i]! + h;
    m[i] = m[i]! - h;
    return (f(p) - f(m)) / (2 * h);
  });
}
