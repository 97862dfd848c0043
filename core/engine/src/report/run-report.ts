/**
 * report.html of one run: the summary, the expected number of trainable parameters against steps
 * with the budget line and the pruning rounds, the search's validation scores, the re-training
 * curve, and a layer × module map of the final architecture with ranks.
 */
import type { RunEvent } from '@peftkit/api';
import type { RunResult } from './result.js';
import { PALETTE, REPORT_CSS, esc, fmt, lineChart } from './svg.js';

/** Keep the last record of each (type, phase, step/epoch): a resumed run re-emits some events. */
export function dedupeEvents(events: readonly RunEvent[]): RunEvent[] {
  const key = (e: RunEvent) =>
    `${e.type}|${e.phase ?? ''}|${e.job ?? ''}|${e.step ?? ''}|${e.epoch ?? ''}|${e.module ?? ''}`;
  const last = new Map<string, number>();
  events.forEach((e, i) => last.set(key(e), i));
  return events.filter((e, i) => last.get(key(e)) === i);
}

/** Column label of a module: its type and the point name without the layer prefix. */
function columnOf(type: string, point: string): { col: string; layer: string } {
  const m = /^layer\.(\d+)\.(.+)$/.exec(point);
  return m ? { col: `${type} ${m[2]}`, layer: m[1]! } : { col: `${type} ${point}`, layer: '—' };
}

const RANK_COLORS = ['#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b'];

function rankColor(rank: number | null, maxRank: number): { bg: string; fg: string } {
  if (rank === null) return { bg: '#a1d99b', fg: '#00441b' };
  const i = Math.min(
    RANK_COLORS.length - 1,
    Math.round((Math.log2(rank) / Math.max(1, Math.log2(maxRank))) * (RANK_COLORS.length - 1)),
  );
  return { bg: RANK_COLORS[i]!, fg: i >= 3 ? '#fff' : '#08306b' };
}

export function architectureMap(result: RunResult, candidateIds: readonly string[]): string {
  const chosen = new Map(result.architecture.modules.map((m) => [m.id, m]));
  const cols = new Set<string>();
  const layers = new Set<string>();
  const all = [...new Set([...candidateIds, ...chosen.keys()])];
  for (const id of all) {
    const at = id.indexOf('@');
    const { col, layer } = columnOf(id.slice(0, at), id.slice(at + 1));
    cols.add(col);
    layers.add(layer);
  }
  const colList = [...cols].sort();
  const layerList = [...layers].sort((a, b) => (a === '—' ? 1 : b === '—' ? -1 : Number(a) - Number(b)));
  const maxRank = Math.max(1, ...result.architecture.modules.map((m) => m.rank ?? 1));
  const candidates = new Set(candidateIds);
  // One row per module kind and position in a layer, one column per layer: narrow enough for
  // deep backbones, and a column reads as "what this layer got".
  const head = `<tr><th class="l">module</th>${layerList.map((l) => `<th>${l === '—' ? 'other' : `layer ${l}`}</th>`).join('')}</tr>`;
  const rows = colList.map((col) => {
    const [type, ...rest] = col.split(' ');
    const suffix = rest.join(' ');
    const cells = layerList.map((layer) => {
      const point = layer === '—' ? suffix : `layer.${layer}.${suffix}`;
      const id = `${type}@${point}`;
      const m = chosen.get(id);
      if (m) {
        const c = rankColor(m.rank, maxRank);
        const text = m.rank === null ? '✓' : String(m.rank);
        return `<td style="background:${c.bg};color:${c.fg}" title="${esc(`${id}: ${m.params} params`)}">${text}</td>`;
      }
      if (candidates.has(id)) return `<td class="off" title="${esc(`${id}: not selected`)}">·</td>`;
      return '<td class="off"></td>';
    });
    return `<tr><th class="l">${esc(type)} <span class="sub">${esc(suffix)}</span></th>${cells.join('')}</tr>`;
  });
  return `<table class="map">${head}${rows.join('')}</table>
<p class="legend">cell = rank of the selected module (✓ = on, for modules without a rank); · = candidate not selected</p>`;
}

function metricsTable(result: RunResult): string {
  const names = [
    ...new Set([...Object.keys(result.metrics.validation), ...Object.keys(result.metrics.test)]),
  ];
  const row = (split: 'validation' | 'test') =>
    `<tr><td class="l">${split}</td>${names.map((n) => `<td>${fmt((result.metrics[split] as Record<string, number>)[n] ?? NaN)}</td>`).join('')}</tr>`;
  return `<table><tr><th class="l">split</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr>${row('validation')}${row('test')}</table>`;
}

export function renderRunReport(result: RunResult, journal: readonly RunEvent[]): string {
  const events = dedupeEvents(journal);
  const steps = events.filter((e) => e.type === 'step' && typeof e.expected === 'number');
  const rounds = events.filter((e) => e.type === 'round');
  const start = events.find((e) => e.type === 'search-start');
  const candidateIds = (start?.candidateIds as string[] | undefined) ?? [];
  const budget = result.budget?.params;

  const sections: string[] = [];
  sections.push(`<h1>peftkit run: ${esc(result.strategy)} on ${esc(result.task.name)}</h1>
<p class="sub">${esc(result.backbone.name)} backbone · seed ${result.seed}${result.preset ? ` · preset ${esc(result.preset)}` : ''} · finished ${esc(result.finishedAt)}</p>
<table class="kv">
<tr><td>trainable PEFT parameters</td><td>${result.trainableParams.toLocaleString('en-US')}${budget ? ` of a budget of ${budget.toLocaleString('en-US')} (${((100 * result.trainableParams) / budget).toFixed(1)}%)` : ''}</td></tr>
<tr><td>share of the backbone</td><td>${((100 * result.trainableParams) / result.backbone.params).toPrecision(3)}% of ${result.backbone.params.toLocaleString('en-US')}</td></tr>
<tr><td>task head</td><td>${result.headParams.toLocaleString('en-US')} parameters (always trained, outside the budget)</td></tr>
<tr><td>modules</td><td>${result.architecture.modules.length}</td></tr>
<tr><td>time</td><td>search ${fmt(result.timings.searchSeconds)} s · re-training ${fmt(result.timings.retrainSeconds)} s · total ${fmt(result.timings.totalSeconds)} s</td></tr>
<tr><td>peak memory</td><td>${result.peakRssMB.toFixed(0)} MB RSS</td></tr>
</table>
<h2>Scores of the final model</h2>${metricsTable(result)}`);

  if (steps.length) {
    sections.push(`<h2>Expected trainable parameters during the search</h2>
${lineChart(
  [
    {
      name: 'expected trainable parameters',
      color: PALETTE[0]!,
      points: steps.map((e) => [e.step as number, e.expected as number]),
    },
  ],
  {
    title: 'Expected size of the architecture distribution',
    xLabel: 'weight step',
    yLabel: 'parameters',
    hLines: budget
      ? [{ y: budget, label: `budget ${budget.toLocaleString('en-US')}`, color: '#d62728' }]
      : [],
    vMarks: rounds.map((r) => ({ x: r.step as number, color: '#ff7f0e' })),
    yMin: 0,
  },
)}
<p class="sub">${rounds.length} pruning round${rounds.length === 1 ? '' : 's'} (orange ticks)${result.search && result.search.stoppedBy ? `; the search stopped by ${esc(result.search.stoppedBy)}` : ''}.</p>`);
  }

  const searchEval = events.filter((e) => e.type === 'search-eval');
  const retrain = events.filter((e) => e.type === 'epoch' && e.phase === 'retrain');
  const metric = result.task.metrics[0] ?? 'accuracy';
  const series = [];
  if (searchEval.length) {
    series.push({
      name: `search: derived sub-network, validation ${metric}`,
      color: PALETTE[2]!,
      points: searchEval.map(
        (e) =>
          [e.epoch as number, ((e.validation as Record<string, number>) ?? {})[metric] ?? NaN] as [
            number,
            number,
          ],
      ),
    });
  }
  const rv = retrain.filter((e) => e.validation);
  if (rv.length) {
    series.push({
      name: `re-training: validation ${metric}`,
      color: PALETTE[3]!,
      points: rv.map(
        (e) =>
          [e.epoch as number, (e.validation as Record<string, number>)[metric] ?? NaN] as [number, number],
      ),
    });
  }
  if (series.length) {
    sections.push(
      `<h2>Validation score per epoch</h2>${lineChart(series, { title: `validation ${metric}`, xLabel: 'epoch', yLabel: metric })}`,
    );
  }

  sections.push(`<h2>Final architecture</h2>${architectureMap(result, candidateIds)}
<table><tr><th class="l">module</th><th>rank</th><th>parameters</th></tr>
${result.architecture.modules.map((m) => `<tr><td class="l">${esc(m.id)}</td><td>${m.rank ?? '—'}</td><td>${m.params.toLocaleString('en-US')}</td></tr>`).join('')}
</table>`);

  if (rounds.length) {
    sections.push(`<h2>Pruning rounds</h2><table><tr><th>round</th><th>step</th><th>trigger similarity</th><th>expected before</th><th>expected after</th><th class="l">removed</th><th class="l">ranks frozen</th></tr>
${rounds
  .map(
    (r) =>
      `<tr><td>${r.round ?? ''}</td><td>${r.step}</td><td>${r.similarity === undefined || r.similarity === null ? '' : (r.similarity as number).toFixed(3)}</td><td>${fmt(r.expectedBefore as number)}</td><td>${fmt(r.expectedAfter as number)}</td><td class="l">${esc(((r.pruned as string[]) ?? []).join(', '))}</td><td class="l">${esc(((r.frozen as { id: string; rank: number }[]) ?? []).map((f) => `${f.id}→${f.rank}`).join(', '))}</td></tr>`,
  )
  .join('')}</table>`);
  }

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peftkit: ${esc(result.strategy)} on ${esc(result.task.name)}</title>
<style>${REPORT_CSS}</style></head>
<body>
${sections.join('\n')}
</body></html>
`;
}
