/**
 * Comparison outputs: per (task, budget, strategy) means and standard deviations over seeds
 * (compare.json's summary), compare.md tables, and report.html with a Pareto view (test score
 * against trainable parameters per strategy), search cost per strategy, and per-task tables.
 *
 * Failed cells are listed with their error: a group of cells whose runs all failed shows as
 * "failed: <message>" in the tables (and has no summary row); failed cells never enter means.
 */
import type { Metrics } from '@peftkit/api';
// Types only: this file also runs in the dashboard's browser page, so it imports nothing but svg.js.
import type { Interval, PairedComparison } from './stats.js';
import { PALETTE, REPORT_CSS, esc, fmt, lineChart } from './svg.js';

/** What identifies a cell of a comparison: strategy label × task × budget × seed. */
interface CompareCellKey {
  label: string;
  strategy: string;
  task: string;
  budget: string;
  budgetParams: number | null;
  seed: number;
}

/** A finished cell of a comparison: one run. */
export interface CompareCell extends CompareCellKey {
  status: 'done';
  dir: string;
  metrics: { validation: Metrics; test: Metrics };
  primaryMetric: string;
  trainableParams: number;
  searchSeconds: number;
  retrainSeconds: number;
  totalSeconds: number;
  searchCompute: { gradientJobs: number; trainSteps: number; evaluateJobs: number; trainJobs: number };
}

/** A cell whose run failed (or could not start): its error, and its run directory when it has one. */
export interface FailedCompareCell extends CompareCellKey {
  status: 'failed';
  dir: string | null;
  error: string;
}

export type CompareEntry = CompareCell | FailedCompareCell;

/** The first line of an error message, at most `max` characters (for tables and summaries). */
export function shortError(message: string, max = 100): string {
  const line = (message.split('\n').find((l) => l.trim() !== '') ?? '').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
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
  /** The strategy the label runs (`manual` marks the manual baselines). */
  strategy: string;
  metric: string;
  /** Over the finished cells of the group only. */
  test: Stat;
  /** 95 % bootstrap interval of the mean test score over test examples and seeds (needs predictions). */
  testInterval?: Interval;
  /** Paired per-seed comparison with the reference of its (task, budget) (needs predictions). */
  vsReference?: PairedComparison & { reference: string };
  validation: Stat;
  trainableParams: Stat;
  searchSeconds: Stat;
  totalSeconds: Stat;
  searchPasses: Stat;
  /** Cells of the group that failed (not in the statistics). */
  failed: number;
}

/** Mean and (sample) standard deviation. */
export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

const groupKey = (c: { task: string; budget: string; label: string }) => `${c.task}|${c.budget}|${c.label}`;

/** The cells of each (task, budget, strategy) group, in the order the groups first appear. */
function groups(cells: readonly CompareEntry[]): { done: CompareCell[]; failed: FailedCompareCell[] }[] {
  const map = new Map<string, { done: CompareCell[]; failed: FailedCompareCell[] }>();
  for (const c of cells) {
    const k = groupKey(c);
    let g = map.get(k);
    if (!g) map.set(k, (g = { done: [], failed: [] }));
    if (c.status === 'failed') g.failed.push(c);
    else g.done.push(c);
  }
  return [...map.values()];
}

/**
 * The manual type a user would pick for a (task, budget): the manual-strategy label with the best
 * mean validation score (and, beside it, the one with the best mean test score, which a user
 * cannot know). Null without manual labels.
 */
export function manualChoice(
  rows: readonly SummaryRow[],
  task: string,
  budget: string,
): { byValidation: SummaryRow; byTest: SummaryRow } | null {
  const manual = rows.filter((r) => r.task === task && r.budget === budget && r.strategy === 'manual');
  if (manual.length === 0) return null;
  const best = (key: 'validation' | 'test') => manual.reduce((a, b) => (b[key].mean > a[key].mean ? b : a));
  return { byValidation: best('validation'), byTest: best('test') };
}

/**
 * Statistics per (task, budget, strategy) over the finished cells. A group with no finished cell
 * has no row (its failures are in the cells); a row counts the failed cells of its group. The
 * example-level statistics (`testInterval`, `vsReference`) are added by compare-stats.ts, which
 * needs the runs' predictions (this file also runs in the dashboard's browser page).
 */
export function summariseCells(cells: readonly CompareEntry[]): SummaryRow[] {
  return groups(cells)
    .filter((g) => g.done.length > 0)
    .map(({ done: g, failed }) => {
      const c0 = g[0]!;
      const metric = c0.primaryMetric;
      return {
        task: c0.task,
        budget: c0.budget,
        budgetParams: c0.budgetParams,
        label: c0.label,
        strategy: c0.strategy,
        metric,
        test: stat(g.map((c) => (c.metrics.test as Record<string, number>)[metric] ?? NaN)),
        validation: stat(g.map((c) => (c.metrics.validation as Record<string, number>)[metric] ?? NaN)),
        trainableParams: stat(g.map((c) => c.trainableParams)),
        searchSeconds: stat(g.map((c) => c.searchSeconds)),
        totalSeconds: stat(g.map((c) => c.totalSeconds)),
        searchPasses: stat(g.map((c) => c.searchCompute.gradientJobs + c.searchCompute.trainSteps)),
        failed: failed.length,
      };
    });
}

/** The finished cells of each summary row's group (by task, budget and label). */
export function cellsOfRow(cells: readonly CompareEntry[], row: SummaryRow): CompareCell[] {
  return cells.filter(
    (c): c is CompareCell =>
      c.status === 'done' && c.task === row.task && c.budget === row.budget && c.label === row.label,
  );
}

/** A table row: a group's summary (when any of its cells finished) and its failed cells. */
interface TableRow {
  task: string;
  budget: string;
  budgetParams: number | null;
  label: string;
  row?: SummaryRow;
  failed: FailedCompareCell[];
}

function tableRows(cells: readonly CompareEntry[], rows: readonly SummaryRow[]): TableRow[] {
  const byKey = new Map(rows.map((r) => [groupKey(r), r]));
  return groups(cells).map((g) => {
    const c0 = (g.done[0] ?? g.failed[0])!;
    const row = byKey.get(groupKey(c0));
    return {
      task: c0.task,
      budget: c0.budget,
      // A group with no finished run takes the budget's size from another strategy's run.
      budgetParams:
        row?.budgetParams ??
        rows.find((r) => r.task === c0.task && r.budget === c0.budget)?.budgetParams ??
        c0.budgetParams,
      label: c0.label,
      ...(row ? { row } : {}),
      failed: g.failed,
    };
  });
}

/** "failed: <message>" for a group whose cells all failed; "(1 of 3 failed: <message>)" otherwise. */
function failureNote(t: TableRow): string {
  if (t.failed.length === 0) return '';
  const messages = [...new Set(t.failed.map((f) => shortError(f.error)))];
  const text = messages.join('; ');
  if (!t.row) return `failed: ${text}`;
  return `(${t.failed.length} of ${t.failed.length + t.row.test.n} failed: ${text})`;
}

const pm = (s: Stat, digits = 4) => `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;

const ci = (r: SummaryRow): string =>
  r.testInterval ? `[${r.testInterval.low.toFixed(4)}, ${r.testInterval.high.toFixed(4)}]` : '—';

const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;

/** "+0.0123 [−0.0040, +0.0290] vs lora; sign p 0.38, perm p 0.31; per seed +0.01, …" */
function versus(r: SummaryRow): string {
  const v = r.vsReference;
  if (!v) return '—';
  return `${signed(v.mean)} [${signed(v.interval.low)}, ${signed(v.interval.high)}] vs ${v.reference}; sign p ${v.signP.toFixed(3)}, perm p ${v.permutationP.toFixed(3)}; per seed ${v.differences.map(signed).join(', ')}`;
}

function manualLine(c: { byValidation: SummaryRow; byTest: SummaryRow }): string {
  return `best manual type by validation: ${c.byValidation.label} (test ${pm(c.byValidation.test)}); by test (not a user's choice): ${c.byTest.label} (test ${pm(c.byTest.test)})`;
}

const mdCell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function countsLine(cells: readonly CompareEntry[], rows: readonly SummaryRow[]): string {
  const failed = cells.filter((c) => c.status === 'failed').length;
  const done = cells.length - failed;
  const seeds = Math.max(0, ...rows.map((r) => r.test.n));
  return `${done} runs${failed ? `, ${failed} failed` : ''}; mean ± standard deviation over ${seeds} seed(s)${failed ? ' (failed runs excluded)' : ''}.`;
}

export function compareMarkdown(
  cells: readonly CompareEntry[],
  rows: readonly SummaryRow[],
  preset: string | null,
): string {
  const table = tableRows(cells, rows);
  const tasks = [...new Set(table.map((r) => r.task))];
  const lines: string[] = [`# Comparison${preset ? `: ${preset}` : ''}`, ''];
  lines.push(countsLine(cells, rows), '');
  for (const task of tasks) {
    const tr = table.filter((r) => r.task === task);
    const metric = tr.find((r) => r.row)?.row?.metric;
    lines.push(`## ${task}${metric ? ` (test ${metric})` : ''}`, '');
    lines.push(
      '| budget | strategy | test | 95 % CI | validation | vs manual (by validation) | trainable params | search s | total s | search passes |',
    );
    lines.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const t of tr) {
      const budget = `${t.budget}${t.budgetParams ? ` (${t.budgetParams})` : ''}`;
      const note = mdCell(failureNote(t));
      const r = t.row;
      if (!r) {
        lines.push(`| ${budget} | ${t.label} | ${note} | — | — | — | — | — | — | — |`);
        continue;
      }
      lines.push(
        `| ${budget} | ${t.label} | ${pm(r.test)}${note ? ` ${note}` : ''} | ${ci(r)} | ${pm(r.validation)} | ${mdCell(versus(r))} | ${Math.round(r.trainableParams.mean)} | ${r.searchSeconds.mean.toFixed(1)} | ${r.totalSeconds.mean.toFixed(1)} | ${Math.round(r.searchPasses.mean)} |`,
      );
    }
    lines.push('');
    for (const budget of [...new Set(tr.map((r) => r.budget))]) {
      const choice = manualChoice(rows, task, budget);
      if (choice) lines.push(`- ${budget}: ${manualLine(choice)}`);
    }
    if (tr.some((t) => t.row && manualChoice(rows, task, t.budget))) lines.push('');
  }
  lines.push(
    '"search passes": forward-backward passes on batches during the search (gradient jobs + trial training steps).',
    '"95 % CI": bootstrap interval of the mean test score over test examples and seeds. "vs manual": the',
    "per-seed test differences against the manual type with the best mean validation score (a user's choice),",
    'their mean, a paired bootstrap interval (seeds and test examples) and two-sided sign and permutation',
    'p-values over seeds (with n seeds neither can go below 2/2^n). An interval that contains 0 means the data',
    'cannot tell the two apart.',
    '',
  );
  const failed = cells.filter((c): c is FailedCompareCell => c.status === 'failed');
  if (failed.length > 0) {
    lines.push('## Failed runs', '');
    for (const f of failed) {
      lines.push(
        `- ${f.label}, ${f.task}, ${f.budget}, seed ${f.seed}${f.dir ? ` (run directory ${f.dir})` : ''}:`,
        '',
        '  ```text',
        ...f.error.split('\n').map((l) => `  ${l}`),
        '  ```',
        '',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Horizontal bars with an error whisker (search cost per strategy); the live dashboard uses it too. */
export function bars(
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
  cells: readonly CompareEntry[],
  rows: readonly SummaryRow[],
  preset: string | null,
): string {
  const done = cells.filter((c): c is CompareCell => c.status !== 'failed');
  const failed = cells.filter((c): c is FailedCompareCell => c.status === 'failed');
  const table = tableRows(cells, rows);
  const labels = [...new Set(cells.map((c) => c.label))];
  const color = (l: string) => PALETTE[labels.indexOf(l) % PALETTE.length]!;
  const tasks = [...new Set(table.map((r) => r.task))];
  const sections: string[] = [];
  sections.push(`<h1>peftkit comparison${preset ? `: ${esc(preset)}` : ''}</h1>
<p class="sub">${done.length} runs${failed.length ? ` · <strong>${failed.length} failed</strong>` : ''} · ${labels.length} strategies · ${tasks.length} task(s) · seeds ${[...new Set(cells.map((c) => c.seed))].join(', ')}</p>`);
  for (const task of tasks) {
    const tr = table.filter((r) => r.task === task);
    const metric = tr.find((r) => r.row)?.row?.metric ?? 'accuracy';
    const series = labels
      .filter((l) => tr.some((r) => r.row && r.label === l))
      .map((l) => ({
        name: l,
        color: color(l),
        markers: true,
        points: done
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
    const chart =
      series.length > 0
        ? `${lineChart(series, {
            title: `${task}: test ${metric} vs trainable PEFT parameters (each point a run)`,
            xLabel: 'trainable PEFT parameters',
            yLabel: `test ${metric}`,
            vMarks: budgets.map((b) => ({ x: b, color: '#999' })),
          })}
<p class="sub">Grey vertical lines: the budgets. Points up and to the left are better.</p>`
        : '<p class="sub">No run of this task finished.</p>';
    sections.push(`<h2>${esc(task)}: test ${esc(metric)} against trainable parameters</h2>
${chart}
<table><tr><th class="l">budget</th><th class="l">strategy</th><th>test ${esc(metric)}</th><th>95 % CI</th><th>validation</th><th class="l">vs manual (by validation)</th><th>trainable params</th><th>search s</th><th>total s</th></tr>
${tr
  .map((t) => {
    const r = t.row;
    const name = `<td class="l">${esc(t.budget)}</td><td class="l"><span style="color:${color(t.label)}">■</span> ${esc(t.label)}</td>`;
    const note = failureNote(t);
    if (!r) return `<tr class="failed">${name}<td class="l" colspan="7">${esc(note)}</td></tr>`;
    return `<tr>${name}<td>${pm(r.test)}${note ? `<br><small>${esc(note)}</small>` : ''}</td><td>${ci(r)}</td><td>${pm(r.validation)}</td><td class="l"><small>${esc(versus(r))}</small></td><td>${Math.round(r.trainableParams.mean).toLocaleString('en-US')}</td><td>${r.searchSeconds.mean.toFixed(1)}</td><td>${r.totalSeconds.mean.toFixed(1)}</td></tr>`;
  })
  .join('')}
</table>
${[...new Set(tr.map((t) => t.budget))]
  .map((b) => manualChoice(rows, task, b))
  .filter((c) => c !== null)
  .map((c) => `<p class="sub">${esc(`${c.byValidation.budget}: ${manualLine(c)}`)}</p>`)
  .join('\n')}`);
  }
  const costLabels = labels.filter((l) => done.some((c) => c.label === l));
  const cost = costLabels.map((l) => {
    const rs = done.filter((c) => c.label === l);
    const s = rs.map((c) => c.searchSeconds);
    const st = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
    const sd = s.length > 1 ? Math.sqrt(s.reduce((a, b) => a + (b - st) ** 2, 0) / (s.length - 1)) : 0;
    return { label: l, value: st, err: sd, color: color(l) };
  });
  sections.push(`<h2>Search cost per strategy</h2>${bars(cost, 'mean search wall time per run (± std over runs)', 's')}
${bars(
  costLabels.map((l) => {
    const rs = done.filter((c) => c.label === l);
    const v =
      rs.reduce((a, c) => a + c.searchCompute.gradientJobs + c.searchCompute.trainSteps, 0) /
      Math.max(1, rs.length);
    return { label: l, value: v, err: 0, color: color(l) };
  }),
  'mean forward-backward passes during the search',
  'passes',
)}`);
  if (failed.length > 0) {
    sections.push(`<h2>Failed runs</h2>
<table><tr><th class="l">strategy</th><th class="l">task</th><th class="l">budget</th><th>seed</th><th class="l">error</th><th class="l">run directory</th></tr>
${failed
  .map(
    (f) =>
      `<tr class="failed"><td class="l">${esc(f.label)}</td><td class="l">${esc(f.task)}</td><td class="l">${esc(f.budget)}</td><td>${f.seed}</td><td class="l"><pre>${esc(f.error)}</pre></td><td class="l">${f.dir ? esc(f.dir) : '—'}</td></tr>`,
  )
  .join('')}
</table>`);
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peftkit comparison${preset ? `: ${esc(preset)}` : ''}</title><style>${REPORT_CSS}</style></head>
<body>
${sections.join('\n')}
</body></html>
`;
}
