/**
 * The live dashboard page of `peftkit serve`: a list of runs and comparisons, a run's search as it
 * goes (expected size against the budget, validation scores, the module x layer map as modules are
 * pruned and ranks frozen), a comparison's cell grid, Pareto plot and search cost. Data arrives as
 * server-sent events; charts are drawn with the same SVG code as report.html.
 */
import { PALETTE, esc, fmt, lineChart } from '../lib/svg.js';
import { architectureMap, dedupeEvents } from '../lib/run-report.js';
import { bars } from '../lib/compare-report.js';

const token = new URLSearchParams(location.search).get('token');
const api = (path, params = {}) => {
  const q = new URLSearchParams({ ...params, ...(token ? { token } : {}) });
  return `api/${path}?${q}`;
};
const view = document.getElementById('view');
let stream = null;
let rerender = null;

/** Redraw at most every 100 ms however fast events arrive. */
function scheduler(draw) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      draw();
    }, 100);
  };
}

function open(path, params, handlers) {
  if (stream) stream.close();
  stream = new EventSource(api(path, params));
  for (const [event, f] of Object.entries(handlers))
    stream.addEventListener(event, (e) => f(JSON.parse(e.data)));
}

const ago = (ms) => {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  return s < 90
    ? `${s.toFixed(0)} s ago`
    : s < 5400
      ? `${(s / 60).toFixed(0)} min ago`
      : `${(s / 3600).toFixed(1)} h ago`;
};

function showList() {
  let data = { roots: [], items: [] };
  const draw = () => {
    const rows = data.items.map(
      (it) =>
        `<tr><td class="l">${it.kind === 'compare' ? 'comparison' : 'run'}</td><td class="l"><a href="#/${it.kind}/${encodeURIComponent(it.id)}">${esc(it.name)}</a></td><td class="l"><span class="status ${it.status}">${it.status}</span></td><td>${it.updatedAt ? ago(it.updatedAt) : ''}</td></tr>`,
    );
    view.innerHTML = `<h1>Runs and comparisons</h1><p class="sub">under ${data.roots.map(esc).join(', ')} · updates live</p>
${rows.length ? `<table id="list"><tr><th class="l">kind</th><th class="l">directory</th><th class="l">status</th><th>last change</th></tr>${rows.join('')}</table>` : '<p id="list-empty">No runs yet: start one with <code>peftkit search</code> or <code>peftkit compare</code>.</p>'}`;
  };
  open('list', {}, { list: (d) => ((data = d), draw()) });
  draw();
}

/** The live module x layer map: every candidate, pruned ones as "·", frozen ranks as numbers. */
function liveArchitecture(events) {
  const start = events.find((e) => e.type === 'search-start');
  const candidateIds = start?.candidateIds ?? [];
  const end = events.find((e) => e.type === 'search-end');
  const split = (id) => ({ type: id.slice(0, id.indexOf('@')), point: id.slice(id.indexOf('@') + 1) });
  let modules;
  if (end?.architecture) {
    modules = end.architecture.modules.map((m) => ({
      id: `${m.type}@${m.point}`,
      type: m.type,
      point: m.point,
      rank: m.rank,
      params: '',
    }));
  } else {
    const pruned = new Set();
    const frozen = new Map();
    for (const e of events) {
      if (e.type === 'round') {
        for (const id of e.pruned ?? []) pruned.add(id);
        for (const f of e.frozen ?? []) frozen.set(f.id, f.rank);
      }
      if (e.type === 'budget-repair') for (const id of e.removed ?? []) pruned.add(id);
    }
    modules = candidateIds
      .filter((id) => !pruned.has(id))
      .map((id) => ({ id, ...split(id), rank: frozen.get(id) ?? null, params: '' }));
  }
  if (!candidateIds.length && !modules.length)
    return '<p class="sub">No module map: the strategy lists no candidates and has not finished its search.</p>';
  const live = { architecture: { modules } };
  return `${architectureMap(live, candidateIds)}<p class="sub">${end ? 'the found architecture, with its ranks' : '✓ = still searched, a number = its rank is frozen, · = pruned'}</p>`;
}

function showRun(id) {
  let meta = null;
  let result = null;
  const records = [];
  const draw = () => {
    const events = dedupeEvents(records);
    const steps = events.filter((e) => e.type === 'step' && e.phase === 'search');
    const sized = steps.filter((e) => typeof e.expected === 'number');
    const rounds = events.filter((e) => e.type === 'round');
    const setup = events.find((e) => e.type === 'setup');
    const budget = setup?.budget?.params ?? null;
    const last = records[records.length - 1];
    const failed = records.find((e) => e.type === 'run-failed' || e.type === 'failure');
    const status = result ? 'finished' : failed ? 'failed' : 'running';
    const metric =
      result?.task?.metrics?.[0] ??
      Object.keys(events.find((e) => e.validation)?.validation ?? { accuracy: 0 })[0];
    const lastStep = steps[steps.length - 1];
    const parts = [];
    parts.push(`<h1>${esc(meta?.run?.name ?? id)} <span class="status ${status}" id="run-status">${status}</span></h1>
<p class="sub">${esc(id)} · seed ${esc(meta?.run?.seed ?? '')}${setup ? ` · ${esc(setup.backbone)} on ${esc(setup.task)}` : ''}${budget ? ` · budget ${budget.toLocaleString('en-US')} parameters` : ''}${lastStep ? ` · search step ${lastStep.done ?? lastStep.step}${lastStep.total ? ` of ${lastStep.total}` : ''}` : ''}${last ? ` · last event ${ago((meta?.run?.startedAt ?? 0) + last.t)}` : ''}</p>`);
    if (result) {
      const t = result.metrics?.test ?? {};
      parts.push(
        `<p>Finished: ${result.trainableParams?.toLocaleString('en-US')} trainable parameters · test ${esc(metric)} ${fmt(t[metric] ?? NaN)} · ${fmt(result.timings?.totalSeconds ?? NaN)} s</p>`,
      );
    }
    parts.push(
      `<h2>Expected trainable parameters</h2><div id="chart-expected" data-points="${sized.length}">${lineChart(
        [
          {
            name: 'expected trainable parameters',
            color: PALETTE[0],
            points: sized.map((e) => [e.step, e.expected]),
          },
        ],
        {
          title: 'Expected size of the architecture distribution',
          xLabel: 'weight step',
          yLabel: 'parameters',
          hLines: budget
            ? [{ y: budget, label: `budget ${budget.toLocaleString('en-US')}`, color: '#d62728' }]
            : [],
          vMarks: rounds.map((r) => ({ x: r.step, color: '#ff7f0e' })),
          yMin: 0,
        },
      )}</div><p class="sub">${rounds.length} pruning round${rounds.length === 1 ? '' : 's'} (orange ticks)</p>`,
    );
    const val = (e) => (e.validation ?? {})[metric] ?? NaN;
    const searchEval = events.filter(
      (e) => e.type === 'search-eval' || (e.type === 'epoch' && e.phase === 'search' && e.validation),
    );
    const retrain = events.filter((e) => e.type === 'epoch' && e.phase === 'retrain' && e.validation);
    const series = [];
    if (searchEval.length)
      series.push({
        name: `search: validation ${metric}`,
        color: PALETTE[2],
        points: searchEval.map((e) => [e.epoch, val(e)]),
      });
    if (retrain.length)
      series.push({
        name: `re-training: validation ${metric}`,
        color: PALETTE[3],
        points: retrain.map((e) => [e.epoch, val(e)]),
      });
    // A single evaluation is a point, not a line.
    for (const s of series) s.markers = s.points.length === 1;
    parts.push(
      `<h2>Validation score</h2><div id="chart-validation" data-points="${searchEval.length + retrain.length}">${lineChart(series, { title: `validation ${metric}`, xLabel: 'epoch', yLabel: metric })}</div>`,
    );
    parts.push(`<h2>Modules × layers</h2><div id="module-map">${liveArchitecture(events)}</div>`);
    view.innerHTML = parts.join('\n');
  };
  const redraw = scheduler(draw);
  open(
    'run',
    { id },
    {
      meta: (m) => ((meta = m), redraw()),
      records: (rs) => (records.push(...rs), redraw()),
      result: (r) => ((result = r), redraw()),
    },
  );
  rerender = redraw;
  draw();
}

function ciText(stat) {
  if (!stat || typeof stat !== 'object') return '';
  const extra = Object.entries(stat)
    .filter(([k]) => !['mean', 'std', 'n'].includes(k))
    .map(
      ([k, v]) =>
        `${k} ${Array.isArray(v) ? `[${v.map((x) => fmt(x)).join(', ')}]` : typeof v === 'number' ? fmt(v) : esc(JSON.stringify(v))}`,
    );
  return `${fmt(stat.mean)} ± ${fmt(stat.std)} (n=${stat.n})${extra.length ? `<br><small>${extra.join(' · ')}</small>` : ''}`;
}

function showCompare(id) {
  let state = null;
  const draw = () => {
    if (!state) return;
    const cells = state.cells;
    const labels = [...new Set(cells.map((c) => c.label))];
    const color = (l) => PALETTE[labels.indexOf(l) % PALETTE.length];
    const columns = [...new Set(cells.map((c) => `${c.task} · ${c.budget} · seed ${c.seed}`))];
    const counts = ['queued', 'running', 'done', 'failed']
      .map((s) => `${cells.filter((c) => c.status === s).length} ${s}`)
      .join(' · ');
    const parts = [
      `<h1>Comparison ${esc(state.preset ?? id)} <span class="status ${state.summary ? 'finished' : 'running'}">${state.summary ? 'finished' : 'running'}</span></h1><p class="sub">${esc(id)} · ${cells.length} cells: ${counts}</p>`,
    ];
    if (state.problem) parts.push(`<p class="error">${esc(state.problem)}</p>`);
    const cellHtml = (c) => {
      if (!c) return '<td class="cell"></td>';
      const score =
        c.status === 'done'
          ? `<br><small>${esc(c.metric)} ${fmt(c.test?.[c.metric] ?? NaN)}</small>`
          : c.status === 'failed'
            ? `<br><small>${esc((c.error ?? '').split('\n')[0].slice(0, 60))}</small>`
            : '';
      const body =
        c.id && c.status !== 'queued'
          ? `<a href="#/run/${encodeURIComponent(c.id)}">${c.status}</a>`
          : c.status;
      return `<td class="cell ${c.status}" data-status="${c.status}">${body}${score}</td>`;
    };
    parts.push(
      `<h2>Cells</h2><table class="grid" id="cell-grid"><tr><th class="l">strategy</th>${columns.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>${labels
        .map(
          (l) =>
            `<tr><th class="l"><span style="color:${color(l)}">■</span> ${esc(l)}</th>${columns.map((k) => cellHtml(cells.find((c) => c.label === l && `${c.task} · ${c.budget} · seed ${c.seed}` === k))).join('')}</tr>`,
        )
        .join('')}</table>`,
    );
    const done = cells.filter((c) => c.status === 'done');
    for (const task of [...new Set(cells.map((c) => c.task))]) {
      const mine = done.filter((c) => c.task === task);
      const metric = mine[0]?.metric ?? 'accuracy';
      const series = labels
        .filter((l) => mine.some((c) => c.label === l))
        .map((l) => ({
          name: l,
          color: color(l),
          markers: true,
          points: mine
            .filter((c) => c.label === l)
            .map((c) => [Math.max(1, c.trainableParams), c.test?.[metric] ?? NaN]),
        }));
      const budgets = [...new Set(mine.map((c) => c.budgetParams).filter((b) => typeof b === 'number'))];
      parts.push(
        `<h2>${esc(task)}: test ${esc(metric)} against trainable parameters</h2><div class="pareto" data-points="${mine.length}">${lineChart(
          series,
          {
            title: `${task}: test ${metric} vs trainable PEFT parameters (each point a finished cell)`,
            xLabel: 'trainable PEFT parameters',
            yLabel: `test ${metric}`,
            vMarks: budgets.map((b) => ({ x: b, color: '#999' })),
          },
        )}</div>`,
      );
    }
    const costLabels = labels.filter((l) => done.some((c) => c.label === l));
    const cost = costLabels.map((l) => {
      const s = done.filter((c) => c.label === l).map((c) => c.searchSeconds);
      const mean = s.reduce((a, b) => a + b, 0) / s.length;
      const sd = s.length > 1 ? Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / (s.length - 1)) : 0;
      return { label: l, value: mean, err: sd, color: color(l) };
    });
    parts.push(
      `<h2>Search cost</h2><div id="search-cost">${cost.length ? bars(cost, 'mean search wall time per finished cell (± std)', 's') : '<p class="sub">No cell has finished yet.</p>'}</div>`,
    );
    if (state.summary) {
      parts.push(
        `<h2>Summary (compare.json)</h2><table id="summary"><tr><th class="l">task</th><th class="l">budget</th><th class="l">strategy</th><th>test</th><th>validation</th><th>trainable params</th><th>search s</th></tr>${state.summary
          .map(
            (r) =>
              `<tr><td class="l">${esc(r.task)}</td><td class="l">${esc(r.budget)}</td><td class="l">${esc(r.label)}</td><td>${ciText(r.test)}</td><td>${ciText(r.validation)}</td><td>${fmt(r.trainableParams?.mean ?? NaN)}</td><td>${fmt(r.searchSeconds?.mean ?? NaN)}</td></tr>`,
          )
          .join(
            '',
          )}</table><p class="sub">mean ± standard deviation over seeds, with the intervals compare.json carries.</p>`,
      );
    }
    view.innerHTML = parts.join('\n');
  };
  open('compare', { id }, { state: (s) => ((state = s), draw()) });
  rerender = draw;
}

function route() {
  rerender = null;
  const [, kind, id] = location.hash.match(/^#\/(run|compare)\/(.+)$/) ?? [];
  if (kind === 'run') showRun(decodeURIComponent(id));
  else if (kind === 'compare') showCompare(decodeURIComponent(id));
  else showList();
}

// Keep "last change ... ago" fresh while nothing arrives.
setInterval(() => rerender?.(), 5000);
window.addEventListener('hashchange', route);
route();
