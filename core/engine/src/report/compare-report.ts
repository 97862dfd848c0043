/**
 * Comparison outputs: per (task, budget, strategy) means and standard deviations over seeds
 * (compare.json's summary), compare.md tables, and report.html with a Pareto view (test score
 * against trainable parameters per strategy), search cost per strategy, and per-task tables.
 */
import type { Metrics } from '@peftkit/api';
import { PALETTE, REPORT_CSS, esc, fmt, lineChart } from './svg.js';

export interface CompareCell {
  label: string;
  strategy: string;
  task: string;
  budget: string;
  budgetParams: number | null;
  seed: number;
  dir: string;
  metrics: { validation: Metrics; test: Metrics };
  primaryMetric: string;
  trainableParams: number;
  searchSeconds: number;
  retrainSeconds: number;
  totalSeconds: number;
  searchCompute: { gradientJobs: number; trainSteps: number; evaluateJobs: number; trainJobs: number };
}

export interface Stat {
  mean: number;
  std: number;
  n: number;
}

export interface SummaryRow {
  task: string;
  budget: string;
  budgetParams: number | null;
  label: string;
  metric: string;
  test: Stat;
  validation: Stat;
  trainableParams: Stat;
  searchSeconds: Stat;
  totalSeconds: Stat;
  searchPasses: Stat;
}

/** Mean and (sample) standard deviation. */
export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

export function summariseCells(cells: readonly CompareCell[]): SummaryRow[] {
  const groups = new Map<string, CompareCell[]>();
  for (const c of cells) {
    const k = `${c.task}|${c.budget}|${c.label}`;
    const list = groups.get(k) ?? [];
    list.push(c);
    groups.set(k, list);
  }
  return [...groups.values()].map((g) => {
    const c0 = g[0]!;
    const metric = c0.primaryMetric;
    return {
      task: c0.task,
      budget: c0.budget,
      budgetParams: c0.budgetParams,
      label: c0.label,
      metric,
      test: stat(g.map((c) => (c.metrics.test as Record<string, number>)[metric] ?? NaN)),
      validation: stat(g.map((c) => (c.metrics.validation as Record<string, number>)[metric] ?? NaN)),
      trainableParams: stat(g.map((c) => c.trainableParams)),
      searchSeconds: stat(g.map((c) => c.searchSeconds)),
      totalSeconds: stat(g.map((c) => c.totalSeconds)),
      searchPasses: stat(g.map((c) => c.searchCompute.gradientJobs + c.searchCompute.trainSteps)),
    };
  });
}

const pm = (s: Stat, digits = 4) => `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;

export function compareMarkdown(
  cells: readonly CompareCell[],
  rows: readonly SummaryRow[],
  preset: string | null,
): string {
  const tasks = [...new Set(rows.map((r) => r.task))];
  const lines: string[] = [`# Comparison${preset ? `: ${preset}` : ''}`, ''];
  lines.push(
    `${cells.length} runs; mean ± standard deviation over ${Math.max(...rows.map((r) => r.test.n))} seed(s).`,
    '',
  );
  for (const task of tasks) {
    const tr = rows.filter((r) => r.task === task);
    lines.push(`## ${task} (test ${tr[0]!.metric})`, '');
    lines.push(
      '| budget | strategy | test | validation | trainable params | search s | total s | search passes |',
    );
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const r of tr) {
      lines.push(
        `| ${r.budget}${r.budgetParams ? ` (${r.budgetParams})` : ''} | ${r.label} | ${pm(r.test)} | ${pm(r.validation)} | ${Math.round(r.trainableParams.mean)} | ${r.searchSeconds.mean.toFixed(1)} | ${r.totalSeconds.mean.toFixed(1)} | ${Math.round(r.searchPasses.mean)} |`,
      );
    }
    lines.push('');
  }
  lines.push(
    '"search passes": forward-backward passes on batches during the search (gradient jobs + trial training steps).',
    '',
  );
  return `${lines.join('\n')}\n`;
}

function bars(
  values: { label: string; value: number; err: number; color: string }[],
  title: string,
  unit: string,
): string {
  const W = 720;
  const rowH = 26;
  const H = 40 + values.length * rowH;
  const max = Math.max(1e-9, ...values.map((v) => v.value + v.err));
  const left = 130;
  const width = W - left - 80;
  const parts = [`<text x="${W / 2}" y="20" text-anchor="middle" class="title">${esc(title)}</text>`];
  values.forEach((v, i) => {
    const y = 32 + i * rowH;
    const w = (v.value / max) * width;
    parts.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end" class="tick">${esc(v.label)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${v.color}" class="bar"/>`,
    );
    if (v.err > 0) {
      const x0 = left + ((v.value - v.err) / max) * width;
      const x1 = left + ((v.value + v.err) / max) * width;
      parts.push(
        `<line x1="${x0}" x2="${x1}" y1="${y + (rowH - 8) / 2}" y2="${y + (rowH - 8) / 2}" stroke="#333"/>`,
      );
    }
    parts.push(
      `<text x="${left + w + 6}" y="${y + 14}" class="tick">${esc(`${fmt(v.value)} ${unit}`)}</text>`,
    );
  });
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

export function renderCompareReport(
  cells: readonly CompareCell[],
  rows: readonly SummaryRow[],
  preset: string | null,
): string {
  const labels = [...new Set(rows.map((r) => r.label))];
  const color = (l: string) => PALETTE[labels.indexOf(l) % PALETTE.length]!;
  const tasks = [...new Set(rows.map((r) => r.task))];
  const sections: string[] = [];
  sections.push(`<h1>peftkit comparison${preset ? `: ${esc(preset)}` : ''}</h1>
<p class="sub">${cells.length} runs · ${labels.length} strategies · ${tasks.length} task(s) · seeds ${[...new Set(cells.map((c) => c.seed))].join(', ')}</p>`);
  for (const task of tasks) {
    const tr = rows.filter((r) => r.task === task);
    const metric = tr[0]!.metric;
    const series = labels
      .filter((l) => tr.some((r) => r.label === l))
      .map((l) => ({
        name: l,
        color: color(l),
        markers: true,
        points: cells
          .filter((c) => c.task === task && c.label === l)
          .map(
            (c) =>
              [Math.max(1, c.trainableParams), (c.metrics.test as Record<string, number>)[metric] ?? NaN] as [
                number,
                number,
              ],
          ),
      }));
    const budgets = [...new Set(tr.map((r) => r.budgetParams).filter((b): b is number => b !== null))];
    sections.push(`<h2>${esc(task)}: test ${esc(metric)} against trainable parameters</h2>
${lineChart(series, {
  title: `${task}: test ${metric} vs trainable PEFT parameters (each point a run)`,
  xLabel: 'trainable PEFT parameters',
  yLabel: `test ${metric}`,
  vMarks: budgets.map((b) => ({ x: b, color: '#999' })),
})}
<p class="sub">Grey vertical lines: the budgets. Points up and to the left are better.</p>
<table><tr><th class="l">budget</th><th class="l">strategy</th><th>test ${esc(metric)}</th><th>validation</th><th>trainable params</th><th>search s</th><th>total s</th></tr>
${tr
  .map(
    (r) =>
      `<tr><td class="l">${esc(r.budget)}</td><td class="l"><span style="color:${color(r.label)}">■</span> ${esc(r.label)}</td><td>${pm(r.test)}</td><td>${pm(r.validation)}</td><td>${Math.round(r.trainableParams.mean).toLocaleString('en-US')}</td><td>${r.searchSeconds.mean.toFixed(1)}</td><td>${r.totalSeconds.mean.toFixed(1)}</td></tr>`,
  )
  .join('')}
</table>`);
  }
  const cost = labels.map((l) => {
    const rs = cells.filter((c) => c.label === l);
    const s = rs.map((c) => c.searchSeconds);
    const st = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
    const sd = s.length > 1 ? Math.sqrt(s.reduce((a, b) => a + (b - st) ** 2, 0) / (s.length - 1)) : 0;
    return { label: l, value: st, err: sd, color: color(l) };
  });
  sections.push(`<h2>Search cost per strategy</h2>${bars(cost, 'mean search wall time per run (± std over runs)', 's')}
${bars(
  labels.map((l) => {
    const rs = cells.filter((c) => c.label === l);
    const v =
      rs.reduce((a, c) => a + c.searchCompute.gradientJobs + c.searchCompute.trainSteps, 0) /
      Math.max(1, rs.length);
    return { label: l, value: v, err: 0, color: color(l) };
  }),
  'mean forward-backward passes during the search',
  'passes',
)}`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peftkit comparison${preset ? `: ${esc(preset)}` : ''}</title><style>${REPORT_CSS}</style></head>
<body>
${sections.join('\n')}
</body></html>
`;
}
