/**
 * Small static SVG charts for the HTML reports: line charts with horizontal reference lines and
 * event markers, and scatter plots. Rendered server-side, so reports need no JavaScript and open
 * anywhere (and render identically in headless Chromium tests).
 */

export function esc(s: unknown): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

export interface Series {
  name: string;
  points: readonly [number, number][];
  color: string;
  /** Draw markers only (scatter) instead of a line. */
  markers?: boolean;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Horizontal reference lines (a budget). */
  hLines?: { y: number; label: string; color: string }[];
  /** Vertical markers (pruning rounds, early stop). */
  vMarks?: { x: number; label?: string; color: string }[];
  logY?: boolean;
  yMin?: number;
  /** Labels next to scatter points. */
  pointLabels?: { x: number; y: number; text: string }[];
}

/** "Nice" tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

export function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  if (a >= 1 || a === 0) return String(Number(v.toFixed(2)));
  return v.toPrecision(2);
}

export function lineChart(series: readonly Series[], o: ChartOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 320;
  const m = { l: 64, r: 16, t: 36, b: 48 };
  const pts = series.flatMap((s) => s.points);
  const ys = [...pts.map((p) => p[1]), ...(o.hLines ?? []).map((h) => h.y)];
  const xs = [...pts.map((p) => p[0]), ...(o.vMarks ?? []).map((v) => v.x)];
  if (pts.length === 0)
    return `<svg class="chart" width="${W}" height="${H}" role="img"><text x="${W / 2}" y="${H / 2}" text-anchor="middle">${esc(o.title)}: no data</text></svg>`;
  const x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x1 === x0) x1 = x0 + 1;
  let y0 = o.yMin ?? Math.min(...ys);
  let y1 = Math.max(...ys);
  if (o.logY) {
    y0 = Math.log10(Math.max(1e-12, Math.min(...ys.filter((y) => y > 0))));
    y1 = Math.log10(Math.max(...ys));
  }
  if (y1 === y0) y1 = y0 + 1;
  const pad = (y1 - y0) * 0.05;
  y0 -= o.yMin !== undefined && !o.logY ? 0 : pad;
  y1 += pad;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number) => {
    const v = o.logY ? Math.log10(Math.max(y, 1e-12)) : y;
    return H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  };
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" class="title">${esc(o.title)}</text>`);
  // Axes and grid.
  const yTicks = o.logY
    ? ticks(Math.floor(y0), Math.ceil(y1), Math.min(6, Math.ceil(y1) - Math.floor(y0))).map((t) => 10 ** t)
    : ticks(y0, y1);
  for (const t of yTicks) {
    const y = Y(t);
    if (y < m.t - 1 || y > H - m.b + 1) continue;
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end" class="tick">${esc(fmt(t))}</text>`);
  }
  for (const t of ticks(x0, x1)) {
    const x = X(t);
    parts.push(`<line x1="${x}" x2="${x}" y1="${H - m.b}" y2="${H - m.b + 4}" class="axis"/>`);
    parts.push(`<text x="${x}" y="${H - m.b + 16}" text-anchor="middle" class="tick">${esc(fmt(t))}</text>`);
  }
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" class="axis"/>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" class="axis"/>`);
  parts.push(
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle" class="label">${esc(o.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle" class="label">${esc(o.yLabel)}</text>`,
  );
  for (const v of o.vMarks ?? []) {
    const x = X(v.x);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="${v.color}" stroke-width="1" opacity="0.45" class="vmark"/>`,
    );
  }
  for (const h of o.hLines ?? []) {
    const y = Y(h.y);
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="${h.color}" stroke-width="2" stroke-dasharray="6 4" class="hline"/>`,
    );
    parts.push(
      `<text x="${W - m.r - 4}" y="${y - 5}" text-anchor="end" fill="${h.color}" class="tick">${esc(h.label)}</text>`,
    );
  }
  for (const s of series) {
    if (s.markers) {
      for (const [x, y] of s.points)
        parts.push(
          `<circle cx="${X(x)}" cy="${Y(y)}" r="4" fill="${s.color}" class="point"><title>${esc(`${s.name}: ${fmt(x)}, ${fmt(y)}`)}</title></circle>`,
        );
    } else if (s.points.length) {
      const d = s.points.map(([x, y], i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join('');
      parts.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''} class="series"/>`,
      );
    }
  }
  for (const l of o.pointLabels ?? [])
    parts.push(`<text x="${X(l.x) + 6}" y="${Y(l.y) - 6}" class="tick">${esc(l.text)}</text>`);
  // Legend.
  series.forEach((s, i) => {
    const y = m.t + 4 + i * 16;
    parts.push(`<rect x="${m.l + 10}" y="${y}" width="12" height="4" fill="${s.color}"/>`);
    parts.push(`<text x="${m.l + 28}" y="${y + 6}" class="tick">${esc(s.name)}</text>`);
  });
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">${parts.join('')}</svg>`;
}

export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#9467bd',
  '#ff7f0e',
  '#17becf',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
];

export const REPORT_CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; } th { background: #f5f5f5; } td.l, th.l { text-align: left; }
.kv td:first-child { text-align: left; color: #555; }
.chart { max-width: 100%; height: auto; background: #fff; border: 1px solid #eee; }
.chart .title { font-weight: 600; font-size: 14px; } .chart .tick { font-size: 11px; fill: #444; } .chart .label { font-size: 12px; fill: #333; }
.chart .grid { stroke: #eee; } .chart .axis { stroke: #888; }
.map td { width: 44px; height: 28px; text-align: center; font-weight: 600; } .map td.off { background: #fafafa; color: #ccc; font-weight: 400; }
.map th.l { white-space: nowrap; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 6px; border-radius: 3px; }
`;
