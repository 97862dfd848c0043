#!/usr/bin/env node
/**
 * The early-selection speed-up as a function of T (issue 17): BIPEFT on sentiment (preset
 * bipeft-sentiment, budget 0.002, 6-epoch search) with the budget scheduler's rounds T in the list
 * given, against the same search without early selection (ablation-no-early-selection), per seed.
 * Each run is a whole `peftkit search` (search, then re-training) in its own process, one after
 * another. Prints one JSON line per run, then a JSON summary: passes (forward+backward passes of
 * the search, the weight and the architecture step each counting one; independent of machine load)
 * and search seconds (meaningful only on an otherwise idle machine), with the ratios to the full
 * search and the re-trained test accuracy.
 *
 *   node tools/bench-early-selection.mjs [--seeds 1,2,3] [--rounds 20,40,70,100] [--dir DIR]
 *                                        [--passes-only]
 *
 * `--passes-only` skips the full searches (without early selection a search always takes every
 * epoch's passes: epochs × batches per epoch × 2, read from the run's `search-start` event) and
 * re-trains for one epoch: the pass ratios as a function of T at a fraction of the time, without
 * wall times or test scores.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const seeds = arg('seeds', '1,2,3').split(',').map(Number);
const roundsList = arg('rounds', '20,40,70,100').split(',').map(Number);
const dir = arg('dir', mkdtempSync(join(tmpdir(), 'peftkit-early-selection-')));
const passesOnly = process.argv.includes('--passes-only');

function run(label, preset, seed, sets) {
  const out = join(dir, `${label}-s${seed}`);
  const args = ['core/cli/dist/src/main.js', 'search', '--preset', preset, '--set', `seeds=[${seed}]`];
  const extra = passesOnly ? ['recipes.retrain.epochs=1'] : [];
  for (const s of [...sets, ...extra, `output.dir=${out}`]) args.push('--set', s);
  execFileSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const runDir = readdirSync(out).map((d) => join(out, d))[0];
  const r = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8'));
  const start = readFileSync(join(runDir, 'journal.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"search-start"'))
    .map((l) => JSON.parse(l))[0];
  const line = {
    label,
    seed,
    passes: r.searchCompute.gradientJobs,
    // Without early selection: every epoch, a weight and an architecture pass per batch.
    fullPasses: start.epochs * start.batchesPerEpoch * 2,
    evaluations: r.searchCompute.evaluateJobs,
    searchSeconds: Math.round(r.timings.searchSeconds * 10) / 10,
    stoppedBy: r.search.stoppedBy,
    rounds: r.search.rounds,
    trainableParams: r.trainableParams,
    budget: r.budget.params,
    test: r.metrics.test.accuracy,
  };
  console.log(JSON.stringify(line));
  return line;
}

const rows = [];
for (const seed of seeds) {
  if (!passesOnly) rows.push(run('full', 'ablation-no-early-selection', seed, []));
  for (const T of roundsList)
    rows.push(
      run(`T${T}`, 'bipeft-sentiment', seed, [
        'strategy.options.scheduler.name=bipeft-budget',
        `strategy.options.scheduler.options.rounds=${T}`,
      ]),
    );
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const full = Object.fromEntries(rows.filter((r) => r.label === 'full').map((r) => [r.seed, r]));
const labels = [...(passesOnly ? [] : ['full']), ...roundsList.map((T) => `T${T}`)];
const summary = labels.map((label) => {
  const rs = rows.filter((r) => r.label === label);
  const common = {
    label,
    passes: mean(rs.map((r) => r.passes)),
    passRatio: mean(rs.map((r) => r.passes / (passesOnly ? r.fullPasses : full[r.seed].passes))),
    passesPerSeed: rs.map((r) => r.passes),
    stoppedBy: rs.map((r) => r.stoppedBy),
    budgetUse: mean(rs.map((r) => r.trainableParams / r.budget)),
  };
  if (passesOnly) return common;
  return {
    ...common,
    searchSeconds: mean(rs.map((r) => r.searchSeconds)),
    secondsRatio: mean(rs.map((r) => r.searchSeconds / full[r.seed].searchSeconds)),
    test: mean(rs.map((r) => r.test)),
    testPerSeed: rs.map((r) => r.test),
  };
});
console.log(JSON.stringify({ seeds, rounds: roundsList, dir, summary }, null, 2));
