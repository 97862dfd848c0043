/**
 * "Did you mean" hints for unknown names (plugins, components, keys, extension kinds), by edit
 * distance, as Babel and Ray do for their plugin names.
 */

/** Damerau-Levenshtein distance (optimal string alignment: adjacent swaps count as one edit). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0]![j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[rows - 1]![cols - 1]!;
}

/**
 * The candidates closest to `word` (case-insensitively), best first: those within a third of the
 * word's length (at least 2 edits), or that contain it or are contained in it.
 */
export function closestMatches(word: string, candidates: Iterable<string>, max = 3): string[] {
  return scoredMatches(word, candidates)
    .slice(0, max)
    .map(([c]) => c);
}

function scoredMatches(word: string, candidates: Iterable<string>): Array<[string, number]> {
  const w = word.toLowerCase();
  const limit = Math.max(2, Math.floor(w.length / 3));
  const scored: Array<[string, number]> = [];
  for (const c of new Set(candidates)) {
    const lc = c.toLowerCase();
    let score = editDistance(w, lc);
    if (score > limit && w.length >= 3 && (lc.includes(w) || w.includes(lc))) score = limit;
    if (score <= limit) scored.push([c, score]);
  }
  scored.sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1));
  return scored;
}

/** `did you mean "x"?` (or `"x" or "y"` for equally close ones), or undefined when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const scored = scoredMatches(word, candidates);
  if (scored.length === 0) return undefined;
  const m = scored
    .filter(([, s]) => s === scored[0]![1])
    .slice(0, 2)
    .map(([c]) => c);
  return `did you mean ${m.map((x) => JSON.stringify(x)).join(' or ')}?`;
}

/** A short readable rendering of a value for error messages. */
export function showValue(v: unknown, max = 60): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'bigint') return `${v}n`;
  let s: string;
  try {
    // NaN and ±Infinity (YAML's .nan, .inf) are named, not shown as JSON's null.
    s =
      JSON.stringify(v, (_k, x: unknown) =>
        typeof x === 'number' && !Number.isFinite(x) ? `\u0000${x}\u0000` : x,
      )?.replace(/"\\u0000(-?\w+)\\u0000"/g, '$1') ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
