/** Pieces of the human-readable task descriptions, computed from the data actually split. */

export function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

/** How many distinct texts occur more than once, and how many rows they cover. */
export function duplicateStats(keys: readonly string[]): { texts: number; rows: number } {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  let texts = 0;
  let rows = 0;
  for (const c of counts.values()) {
    if (c > 1) {
      texts++;
      rows += c;
    }
  }
  return { texts, rows };
}

/** "train 2,100 (1,050 negative / 1,050 positive), validation …" */
export function balanceText(
  splits: Readonly<Record<string, readonly { label: number }[]>>,
  labelNames: readonly string[],
): string {
  return Object.entries(splits)
    .map(([name, rows]) => {
      const counts = labelNames.map((_, i) => rows.filter((r) => r.label === i).length);
      return `${name} ${thousands(rows.length)} (${counts.map((c, i) => `${thousands(c)} ${labelNames[i]}`).join(' / ')})`;
    })
    .join(', ');
}
