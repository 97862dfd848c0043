#!/usr/bin/env node
/**
 * Summarise finished runs and comparisons into the markdown tables of docs/results.md.
 *
 *   node tools/results-report.mjs DIR [DIR ...]
 *
 * Every run directory (a result.json) found under the DIRs is grouped by preset (mean ± sample
 * standard deviation over its seeds); every comparison directory (cells.json) is tabulated per
 * task and budget, from its compare.json when it finished and otherwise from the cells that did
 * (a cell then shows how many seeds it averages). Numbers are read from the runs' own result.json
 * files, nothing else.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = process.argv.slice(2);
if (roots.length === 0) {
  console.error('usage: node tools/results-report.mjs DIR [DIR ...]');
  process.exit(2);
}

function walk(dir, found) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (!statSync(p).isDirectory()) continue;
    if (existsSync(join(p, 'cells.json'))) found.compares.push(p);
    else if (existsSync(join(p, 'result.json'))) found.runs.push(p);
    else walk(p, found);
  }
  return found;
}

const found = { runs: [], compares: [] };
for (const r of roots) {
  // A root may itself be a comparison or a run directory.
  if (existsSync(join(r, 'cells.json'))) found.compares.push(r);
  else if (existsSync(join(r, 'result.json'))) found.runs.push(r);
  else walk(r, found);
}

const stat = (xs) => {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
};
const pm = (s, d = 4) => `${s.mean.toFixed(d)} ± ${s.std.toFixed(d)}`;
const int = (v) => Math.round(v).toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------
// Runs grouped by preset.
const byPreset = new Map();
for (const dir of found.runs) {
  const r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
  const key = r.preset ?? dir;
  if (!byPreset.has(key)) byPreset.set(key, []);
  byPreset.get(key).push({ dir, r });
}

if (byPreset.size > 0) {
  console.log('## Runs by preset\n');
  console.log(
    '| preset | command | seeds | test (first metric) | validation | trainable PEFT params | search s | re-train s | search passes | peak RSS MB |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [preset, list] of [...byPreset.entries()].sort()) {
    const m = list[0].r.task.metrics[0];
    const t = stat(list.map((x) => x.r.metrics.test[m]));
    const v = stat(list.map((x) => x.r.metrics.validation[m]));
    const p = stat(list.map((x) => x.r.trainableParams));
    const s = stat(list.map((x) => x.r.timings.searchSeconds));
    const rt = stat(list.map((x) => x.r.timings.retrainSeconds));
    const passes = stat(
      list.map((x) =>
        x.r.searchCompute ? x.r.searchCompute.gradientJobs + x.r.searchCompute.trainSteps : 0,
      ),
    );
    const rss = stat(list.map((x) => x.r.peakRssMB));
    console.log(
      `| ${preset} | ${list[0].r.command} | ${list
        .map((x) => x.r.seed)
        .sort((a, b) => a - b)
        .join(
          ',',
        )} | ${m} ${pm(t)} | ${pm(v)} | ${int(p.mean)} | ${s.mean.toFixed(1)} | ${rt.mean.toFixed(1)} | ${int(passes.mean)} | ${int(rss.mean)} |`,
    );
  }
  console.log('');
  // Training curves (first and last epoch loss) where the search recorded no strategy (train runs).
  const trains = [...byPreset.entries()].filter(([, l]) => l[0].r.command === 'train');
  if (trains.length) {
    console.log('### Training loss of `train` runs (mean over seeds, first → last epoch)\n');
    console.log('| preset | modules | trainable params | train loss, epoch 1 → last | validation | test |');
    console.log('|---|---|---|---|---|---|');
    for (const [preset, list] of trains.sort()) {
      const curves = list.map((x) => {
        const j = readFileSync(join(x.dir, 'journal.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const ep = j.filter((e) => e.type === 'epoch' && e.phase === 'retrain');
        return [ep[0]?.trainLoss ?? NaN, ep[ep.length - 1]?.trainLoss ?? NaN];
      });
      const m = list[0].r.task.metrics[0];
      const first = stat(curves.map((c) => c[0]));
      const last = stat(curves.map((c) => c[1]));
      console.log(
        `| ${preset} | ${list[0].r.architecture.modules.length} | ${int(list[0].r.trainableParams)} | ${first.mean.toFixed(3)} → ${last.mean.toFixed(3)} | ${m} ${pm(stat(list.map((x) => x.r.metrics.validation[m])))} | ${pm(stat(list.map((x) => x.r.metrics.test[m])))} |`,
      );
    }
    console.log('');
  }
}

// ---------------------------------------------------------------------------------------------
// Comparisons.
/** Labels of the cells that ran strategy `name` (from their result.json). */
function labelsOfStrategy(dir, name) {
  const labels = new Set();
  for (const cell of JSON.parse(readFileSync(join(dir, 'cells.json'), 'utf8'))) {
    const file = cell.dir ? join(cell.dir, 'result.json') : null;
    if (file && existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).strategy === name)
      labels.add(cell.label);
  }
  return labels;
}

/**
 * compare.json of a finished comparison; for an unfinished one, the same summary from its finished
 * cells. A comparison resumed with a larger grid keeps its old compare.json until it finishes again,
 * so compare.json is trusted only when every cell of cells.json has its result.
 */
function readComparison(dir) {
  const meta = JSON.parse(readFileSync(join(dir, 'compare-meta.json'), 'utf8'));
  const cells = JSON.parse(readFileSync(join(dir, 'cells.json'), 'utf8'));
  const allDone = cells.every((c) => c.dir && existsSync(join(c.dir, 'result.json')));
  if (allDone && existsSync(join(dir, 'compare.json')))
    return { ...JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')), pending: 0 };
  const groups = new Map();
  let pending = 0;
  for (const cell of cells) {
    const file = cell.dir ? join(cell.dir, 'result.json') : null;
    if (!file || !existsSync(file)) {
      pending++;
      continue;
    }
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const key = `${cell.task.name}|${cell.budgetLabel}|${cell.label}`;
    if (!groups.has(key))
      groups.set(key, { task: cell.task.name, budget: cell.budgetLabel, label: cell.label, runs: [] });
    groups.get(key).runs.push(r);
  }
  const summary = [...groups.values()].map((g) => {
    const metric = g.runs[0].task.metrics[0];
    return {
      task: g.task,
      budget: g.budget,
      budgetParams: g.runs[0].budget?.params ?? null,
      label: g.label,
      metric,
      test: stat(g.runs.map((r) => r.metrics.test[metric])),
      validation: stat(g.runs.map((r) => r.metrics.validation[metric])),
      trainableParams: stat(g.runs.map((r) => r.trainableParams)),
      searchSeconds: stat(g.runs.map((r) => r.timings.searchSeconds)),
      totalSeconds: stat(g.runs.map((r) => r.timings.totalSeconds)),
      searchPasses: stat(g.runs.map((r) => r.searchCompute.gradientJobs + r.searchCompute.trainSteps)),
    };
  });
  return { preset: meta.preset, summary, pending };
}

for (const dir of found.compares) {
  const c = readComparison(dir);
  console.log(
    `## Comparison ${c.preset ?? dir}${c.pending ? ` (unfinished: ${c.pending} cells not run)` : ''}\n`,
  );
  const tasks = [...new Set(c.summary.map((r) => r.task))];
  for (const task of tasks) {
    const rows = c.summary.filter((r) => r.task === task);
    const budgets = [...new Set(rows.map((r) => r.budget))];
    const labels = [...new Set(rows.map((r) => r.label))];
    const seeds = Math.max(...rows.map((r) => r.test.n));
    console.log(
      `### ${task}: test ${rows[0].metric} (mean ± std over ${seeds} seeds), trainable PEFT parameters\n`,
    );
    console.log(
      `| strategy | ${budgets.map((b) => `${b} (${int(rows.find((r) => r.budget === b).budgetParams ?? 0)})`).join(' | ')} |`,
    );
    console.log(`|---|${budgets.map(() => '---').join('|')}|`);
    for (const l of labels) {
      const cells = budgets.map((b) => {
        const r = rows.find((x) => x.label === l && x.budget === b);
        if (!r) return '—';
        const partial = r.test.n < seeds ? ` [${r.test.n} seed${r.test.n > 1 ? 's' : ''}]` : '';
        return `${pm(r.test)} (${int(r.trainableParams.mean)})${partial}`;
      });
      console.log(`| ${l} | ${cells.join(' | ')} |`);
    }
    console.log('');
    console.log(`### ${task}: search cost (mean over seeds)\n`);
    console.log(
      `| strategy | ${budgets.map((b) => `${b}: search s`).join(' | ')} | ${budgets.map((b) => `${b}: passes`).join(' | ')} | total s |`,
    );
    console.log(`|---|${budgets.map(() => '---').join('|')}|${budgets.map(() => '---').join('|')}|---|`);
    for (const l of labels) {
      const rs = budgets.map((b) => rows.find((x) => x.label === l && x.budget === b));
      console.log(
        `| ${l} | ${rs.map((r) => (r ? r.searchSeconds.mean.toFixed(1) : '—')).join(' | ')} | ${rs.map((r) => (r ? int(r.searchPasses.mean) : '—')).join(' | ')} | ${stat(rs.filter(Boolean).map((r) => r.totalSeconds.mean)).mean.toFixed(1)} |`,
      );
    }
    console.log('');
    // BIPEFT's search against the others, per budget.
    if (labels.includes('bipeft')) {
      for (const b of budgets) {
        const bip = rows.find((x) => x.label === 'bipeft' && x.budget === b);
        if (!bip) continue;
        const others = rows.filter(
          (x) => x.budget === b && x.label !== 'bipeft' && x.searchSeconds.mean > 0.5,
        );
        if (!others.length) continue;
        console.log(
          `- ${task}, ${b}: BIPEFT search time as a fraction of ${others.map((o) => `${o.label} ${(bip.searchSeconds.mean / o.searchSeconds.mean).toFixed(2)} (passes ${(bip.searchPasses.mean / Math.max(1, o.searchPasses.mean)).toFixed(2)})`).join(', ')}`,
        );
      }
      console.log('');
    }
    // Each BIPEFT line (any space or option) against the manual single-type configuration a user
    // would pick at each budget (best mean validation score), beside the by-test maximum (which no
    // user can know), with the paired statistics compare.json holds when the runs stored predictions.
    const manual = labelsOfStrategy(dir, 'manual');
    for (const l of labelsOfStrategy(dir, 'bipeft')) {
      for (const b of budgets) {
        const bip = rows.find((x) => x.label === l && x.budget === b);
        const man = rows.filter((x) => x.budget === b && manual.has(x.label));
        if (!bip || !man.length) continue;
        const pick = (key) => man.reduce((a, x) => (x[key].mean > a[key].mean ? x : a));
        const byTest = pick('test');
        const byVal = pick('validation');
        const gap = (ref) => {
          const d = bip.test.mean - ref.test.mean;
          return `${d >= 0 ? '+' : ''}${(100 * d).toFixed(2)} points`;
        };
        const v = bip.vsReference;
        const paired = v
          ? `; paired over seeds ${(100 * v.mean).toFixed(2)} points, 95 % CI [${(100 * v.interval.low).toFixed(2)}, ${(100 * v.interval.high).toFixed(2)}], sign p ${v.signP.toFixed(3)}, permutation p ${v.permutationP.toFixed(3)}${v.interval.low <= 0 && v.interval.high >= 0 ? ' (the data cannot tell them apart)' : ''}`
          : '';
        const ci = bip.testInterval
          ? ` (95 % CI [${bip.testInterval.low.toFixed(4)}, ${bip.testInterval.high.toFixed(4)}])`
          : '';
        console.log(
          `- ${task}, ${b}: ${l} ${pm(bip.test)}${ci} against the manual type chosen by validation, ` +
            `${byVal.label} ${pm(byVal.test)}: ${gap(byVal)}${paired}; against the best manual type by test ` +
            `(not a user's choice), ${byTest.label} ${pm(byTest.test)}: ${gap(byTest)}`,
        );
      }
    }
    console.log('');
  }
}
