/**
 * Two-objective Pareto fronts, hypervolume and expected hypervolume improvement (EHVI), for
 * AutoPEFT's objectives: the parameter ratio (minimised) and the validation score (maximised).
 *
 * Internally both objectives are maximised: f1 = −(parameter size), f2 = score, and a reference
 * point r = (r1, r2) is worse than every point that counts. The region a front dominates above r is
 * a staircase; sorting the front by f1 in decreasing order (so f2 increases), the level of the
 * staircase over u ∈ (f1 of the next point, f1 of point k] is point k's f2.
 *
 * EHVI here is exact, not Monte Carlo: the parameter size of a configuration is known exactly, so
 * only the score is uncertain (Y ~ N(μ, σ²) from the GP). Adding the point (c, Y) improves the
 * hypervolume by Σ_k w_k · max(0, Y − L_k) over the vertical strips k of (r1, c] on which the front's
 * staircase has level L_k (r2 where no front point reaches), so
 *
 *   EHVI = Σ_k w_k · E[max(0, Y − L_k)] = Σ_k w_k · ((μ − L_k)·Φ(z_k) + σ·φ(z_k)),  z_k = (μ − L_k)/σ,
 *
 * the standard strip decomposition of the non-dominated region, with one Gaussian factor per strip.
 */

export interface Objectives {
  /** Parameter ratio or count (minimised). */
  readonly size: number;
  /** Validation score (maximised). */
  readonly score: number;
}

export interface ReferencePoint {
  /** Size beyond which a point counts for nothing. */
  readonly size: number;
  /** Score below which a point counts for nothing. */
  readonly score: number;
}

/** Which points are non-dominated (smaller size and larger score are better; equal points both stay). */
export function paretoFront(points: readonly Objectives[]): boolean[] {
  return points.map(
    (p, i) =>
      !points.some(
        (q, j) => j !== i && q.size <= p.size && q.score >= p.score && (q.size < p.size || q.score > p.score),
      ),
  );
}

/** The front's points that dominate the reference point, as a staircase: size ascending, score ascending. */
function staircase(points: readonly Objectives[], ref: ReferencePoint): Objectives[] {
  const inside = points.filter((p) => p.size < ref.size && p.score > ref.score);
  const front = paretoFront(inside);
  const steps = inside.filter((_, i) => front[i]);
  // Sorted by size ascending = f1 descending; on a front the score then increases.
  steps.sort((a, b) => a.size - b.size || a.score - b.score);
  // Drop exact duplicates (they add no area).
  return steps.filter((p, i) => i === 0 || p.size !== steps[i - 1]!.size || p.score !== steps[i - 1]!.score);
}

/** Hypervolume (area) dominated by the points and bounded by the reference point. */
export function hypervolume(points: readonly Objectives[], ref: ReferencePoint): number {
  const steps = staircase(points, ref);
  let area = 0;
  for (let k = 0; k < steps.length; k++) {
    const right = k + 1 < steps.length ? steps[k + 1]!.size : ref.size;
    area += (right - steps[k]!.size) * (steps[k]!.score - ref.score);
  }
  return area;
}

/**
 * The strips of sizes (size, ref.size) a new point of this size would cover, each with the score
 * level the front already reaches there: (width, level) pairs.
 */
export function improvementStrips(
  front: readonly Objectives[],
  size: number,
  ref: ReferencePoint,
): { width: number; level: number }[] {
  if (!(size < ref.size)) return [];
  const steps = staircase(front, ref);
  const strips: { width: number; level: number }[] = [];
  // Over sizes [s_k, s_{k+1}) the best score among points with size ≤ u is steps[k].score; below
  // the smallest front size nothing dominates, so the level is the reference score.
  const edges = [size, ...steps.map((p) => p.size).filter((s) => s > size), ref.size];
  const levelAt = (u: number) => {
    let level = ref.score;
    for (const p of steps) if (p.size <= u) level = Math.max(level, p.score);
    return level;
  };
  for (let i = 0; i + 1 < edges.length; i++) {
    const width = edges[i + 1]! - edges[i]!;
    if (width > 0) strips.push({ width, level: levelAt(edges[i]!) });
  }
  return strips;
}

/** Exact hypervolume improvement of adding (size, score). */
export function hypervolumeImprovement(
  front: readonly Objectives[],
  point: Objectives,
  ref: ReferencePoint,
): number {
  let hvi = 0;
  for (const s of improvementStrips(front, point.size, ref))
    hvi += s.width * Math.max(0, point.score - s.level);
  return hvi;
}

/** Exact EHVI of a point of known size whose score is N(mean, sd²). */
export function expectedHypervolumeImprovement(
  front: readonly Objectives[],
  size: number,
  mean: number,
  sd: number,
  ref: ReferencePoint,
): number {
  let ehvi = 0;
  for (const { width, level } of improvementStrips(front, size, ref)) {
    ehvi += width * expectedPositivePart(mean - level, sd);
  }
  return ehvi;
}

/** E[max(0, X)] for X ~ N(m, s²): m·Φ(m/s) + s·φ(m/s) (max(0, m) when s = 0). */
export function expectedPositivePart(m: number, s: number): number {
  if (!(s > 0)) return Math.max(0, m);
  const z = m / s;
  return m * normalCdf(z) + s * normalPdf(z);
}

export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Φ(z) via erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

export function erfc(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? y : 2 - y;
}
