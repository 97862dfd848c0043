/**
 * A plugin from outside plugins/ takes part in a real search: a preset in a temporary directory
 * names the example plugin (test/example-plugin) and a fixture plugin with the tiny backbone and
 * task by relative path under `plugins:`, and configures BIPEFT with
 * `importance: { name: grad-norm }`. The configuration is loaded and validated with loadConfig,
 * the estimator is resolved through the Registry from the example plugin, and executeRuns runs the
 * search, the re-training and the run directory, as `peftkit search --preset` does.
 */
import type { RunEvent } from '@peftkit/api';
import { type LoopCheckpoint, RunDir, baseDirOf, executeRuns, loadConfig } from '@peftkit/engine';
import { expect } from 'chai';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('../..', import.meta.url));
const REPO = fileURLToPath(new URL('../../../..', import.meta.url));
const EXAMPLE_PLUGIN = join(REPO, 'test', 'example-plugin');
const FIXTURE_PLUGIN = join(HERE, 'fixtures', 'tiny-fixture');
const quiet = { info() {}, warn() {}, debug() {} };

describe('an external importance estimator in a BIPEFT search (plugin loaded by path from a preset)', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'peftkit-grad-norm-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  function writePreset(): string {
    const rel = (dir: string) => {
      const r = relative(tmp, dir);
      return r.startsWith('.') ? r : `./${r}`;
    };
    const file = join(tmp, 'grad-norm.yaml');
    writeFileSync(
      file,
      `description: BIPEFT with the grad-norm importance estimator on the tiny fixture
plugins:
  - ${rel(EXAMPLE_PLUGIN)}
  - ${rel(FIXTURE_PLUGIN)}
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { train: 32, validation: 16, test: 16 } }
space: { name: s1, options: { ranks: [1, 2] } }
strategy:
  name: bipeft
  options:
    pruneBeginEpoch: 0
    importance: { name: grad-norm, options: { beta: 0.8 } }
    scheduler: { name: bipeft-budget, options: { rounds: 3, window: 2, lastRounds: 1, threshold: 0.5 } }
budget: { params: 150 }
seeds: [7]
recipes:
  search: { epochs: 3, batchSize: 8, lr: 0.003 }
  retrain: { epochs: 2, batchSize: 8, lr: 0.003 }
output: { dir: ./runs, name: grad-norm }
`,
    );
    return file;
  }

  it('resolves grad-norm from the example plugin and runs the search with it', async () => {
    const { config, registry, origins } = await loadConfig({ preset: writePreset(), cwd: tmp });

    // The estimator is registered by the example plugin, loaded from the preset (not a built-in).
    const entry = registry.get('importance-estimator', 'grad-norm');
    expect(entry.plugin.name).to.equal('peftkit-plugin-grad-norm');
    expect(entry.plugin.origin).to.equal('config');
    expect(realpathSync(entry.plugin.dir!)).to.equal(realpathSync(EXAMPLE_PLUGIN));
    expect(relative(join(REPO, 'plugins'), realpathSync(entry.plugin.dir!)).startsWith('..')).to.equal(true);
    // Validation filled in the estimator's schema defaults.
    const strategyOptions = config.strategy!.options as {
      importance: { name: string; options: Record<string, unknown> };
    };
    expect(strategyOptions.importance).to.deep.equal({
      name: 'grad-norm',
      options: { beta: 0.8, source: 'weight', normalization: 'rms' },
    });

    const events: RunEvent[] = [];
    const [run] = await executeRuns({
      command: 'search',
      config,
      registry,
      preset: 'grad-norm',
      reporters: [{ onEvent: (e) => void events.push(e) }],
      log: quiet,
      checkpointSeconds: 0,
      baseDirFor: (path) => baseDirOf(origins, path, tmp),
    });
    const result = run!.result;
    expect(result.strategy).to.equal('bipeft');
    expect(result.backbone.name).to.equal('tiny');
    expect(result.trainableParams).to.be.greaterThan(0).and.at.most(150);
    expect(result.metrics.test.accuracy).to.be.a('number');

    // The search pruned on rounds, and the strategy's checkpointed state holds the grad-norm
    // estimator's own state (tagged `estimator: 'grad-norm'`) with a score per candidate.
    const rounds = events.filter((e) => e.type === 'round');
    expect(rounds.length).to.be.greaterThan(0);
    expect(rounds.some((r) => (r.pruned as string[]).length > 0)).to.equal(true);
    const checkpoint = RunDir.open(run!.dir).loadCheckpoint<LoopCheckpoint>()!;
    const importance = (
      checkpoint.state.strategy as { importance: { estimator: string; scores: [string, number][] } }
    ).importance;
    expect(importance.estimator).to.equal('grad-norm');
    const start = events.find((e) => e.type === 'search-start')!;
    expect(importance.scores.map(([id]) => id).sort()).to.deep.equal(
      [...(start.candidateIds as string[])].sort(),
    );
    expect(importance.scores.every(([, v]) => Number.isFinite(v) && v >= 0)).to.equal(true);
    expect(importance.scores.some(([, v]) => v > 0)).to.equal(true);
  });
});
