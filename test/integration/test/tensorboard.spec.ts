/**
 * TensorBoard logs read back with TensorBoard's own Python reader (one invocation): a tiny
 * comparison (BIPEFT and manual LoRA) writes one TensorBoard run per cell under the comparison
 * directory, and each run's scalars are exactly the journal's numbers: same tags, steps, values
 * (as float32) and wall times. `output.tensorboard: false` writes none.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJournal, scalarsOf, type JournalRecord } from '@peftkit/engine';
import { requireGoldenPython } from '@peftkit/testing';
import { tinyGridPreset } from './tiny-grid.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'core/cli/bin/peftkit.js');
const READER = fileURLToPath(new URL('../../fixtures/read_tensorboard.py', import.meta.url));

type Points = [number, number, number][];

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`peftkit ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r;
}

const f32 = (v: number) => Math.fround(v);

describe('TensorBoard event files, read back by TensorBoard', function () {
  this.timeout(240_000);
  let dir: string;
  let python: string;
  let compareDir: string;
  let cells: { label: string; dir: string }[];
  let runs: Record<string, Record<string, Points>>;

  before(function () {
    python = requireGoldenPython(this);
    dir = mkdtempSync(join(tmpdir(), 'peftkit-tb-'));
    writeFileSync(
      join(dir, 'grid.yaml'),
      tinyGridPreset({
        seeds: [1],
        strategies: ['bipeft', 'lora'],
        budgets: [300],
        outDir: join(dir, 'out'),
      }),
    );
    const r = cli(['compare', '--preset', join(dir, 'grid.yaml'), '--json', '--reporter', 'quiet'], dir);
    const res = JSON.parse(r.stdout) as { dir: string; cells: { label: string; dir: string }[] };
    compareDir = res.dir;
    cells = res.cells;
    const out = execFileSync(python, [READER, compareDir], { encoding: 'utf8', timeout: 120_000 });
    runs = (JSON.parse(out) as { runs: typeof runs }).runs;
  });
  // dir is unset when the suite is skipped (no Python outside CI).
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  const runOf = (cell: { dir: string }) => runs[join(relative(compareDir, cell.dir), 'tensorboard')]!;
  const journalOf = (cell: { dir: string }): JournalRecord[] =>
    readJournal(join(cell.dir, 'journal.jsonl')).records;

  it('a comparison has one TensorBoard run per cell, so `tensorboard --logdir COMPARE_DIR` overlays them', () => {
    expect(Object.keys(runs).sort()).to.deep.equal(
      cells.map((c) => join(relative(compareDir, c.dir), 'tensorboard')).sort(),
    );
  });

  it("each run's scalars are the journal's numbers: tags, steps, values and wall times", () => {
    for (const cell of cells) {
      const startedAt = (
        JSON.parse(readFileSync(join(cell.dir, 'run.json'), 'utf8')) as { startedAt: number }
      ).startedAt;
      const expected: Record<string, Points> = {};
      for (const r of journalOf(cell)) {
        const s = scalarsOf(r);
        for (const v of s?.values ?? [])
          (expected[v.tag] ??= []).push([s!.step, f32(v.value), (startedAt + r.t) / 1000]);
      }
      const got = runOf(cell);
      expect(Object.keys(got).sort(), cell.label).to.deep.equal(Object.keys(expected).sort());
      for (const [tag, points] of Object.entries(expected)) {
        const g = got[tag]!;
        expect(
          g.map((p) => [p[0], p[1]]),
          `${cell.label} ${tag}`,
        ).to.deep.equal(points.map((p) => [p[0], p[1]]));
        g.forEach((p, i) => expect(p[2]).to.be.closeTo(points[i]![2], 1e-3));
      }
    }
  });

  it('the search curves, learning rate, temperature, pruning rounds and re-training are there under their own tags', () => {
    const bipeft = cells.find((c) => c.label === 'bipeft')!;
    const got = runOf(bipeft);
    const journal = journalOf(bipeft);
    const steps = journal.filter((r) => r.type === 'step' && r.phase === 'search');
    expect(steps.length).to.be.greaterThan(3);
    const at = (tag: string) => (got[tag] ?? []).map((p) => [p[0], p[1]]);
    expect(at('search/expected_trainable_params')).to.deep.equal(
      steps.map((r) => [r.step, f32(r.expected as number)]),
    );
    expect(at('search/budget_params')).to.deep.equal(steps.map((r) => [r.step, 300]));
    expect(at('search/temperature')).to.deep.equal(steps.map((r) => [r.step, f32(r.tau as number)]));
    expect(at('search/lr')).to.deep.equal(steps.map((r) => [r.step, f32(r.lr as number)]));
    expect(at('search/loss_weight')).to.deep.equal(steps.map((r) => [r.step, f32(r.lossWeight as number)]));
    const rounds = journal.filter((r) => r.type === 'round');
    expect(rounds.length).to.be.greaterThan(0);
    expect(at('search/round/modules_pruned')).to.deep.equal(
      rounds.map((r) => [r.step, (r.pruned as unknown[]).length]),
    );
    expect(at('search/round/ranks_frozen')).to.deep.equal(
      rounds.map((r) => [r.step, (r.frozen as unknown[]).length]),
    );
    const evals = journal.filter((r) => r.type === 'search-eval');
    expect(at('search/validation/accuracy')).to.deep.equal(
      evals.map((r) => [r.step, f32((r.validation as Record<string, number>).accuracy!)]),
    );
    const epochs = journal.filter((r) => r.type === 'epoch' && r.phase === 'retrain');
    expect(epochs.length).to.equal(2);
    expect(at('retrain/train_loss')).to.deep.equal(epochs.map((r) => [r.step, f32(r.trainLoss as number)]));
    expect(at('retrain/lr')).to.deep.equal(epochs.map((r) => [r.step, f32(r.lr as number)]));
    expect(at('retrain/validation/accuracy')).to.deep.equal(
      epochs.map((r) => [r.step, f32((r.validation as Record<string, number>).accuracy!)]),
    );
    const end = journal.find((r) => r.type === 'run-end')!;
    expect(at('final/test/accuracy')).to.deep.equal([
      [0, f32((end.test as Record<string, number>).accuracy!)],
    ]);
  });

  it('output.tensorboard: false writes no event files', () => {
    const off = join(dir, 'off');
    cli(
      [
        'compare',
        '--preset',
        join(dir, 'grid.yaml'),
        '--set',
        `output.dir=${off}`,
        '--set',
        'output.tensorboard=false',
        '--reporter',
        'quiet',
      ],
      dir,
    );
    const [cmp] = readdirSync(off);
    const runDirs = readdirSync(join(off, cmp!, 'runs'));
    expect(runDirs.length).to.equal(2);
    for (const r of runDirs) expect(existsSync(join(off, cmp!, 'runs', r, 'tensorboard')), r).to.equal(false);
  });
});
