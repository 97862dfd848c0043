/**
 * Run orchestration, from a validated configuration to finished run directories:
 *
 *   config ──registry──▶ backbone, task, backend, module types, space, strategy, executor
 *          ──▶ workbench (tokenised splits) ──▶ search loop (ask/tell, checkpoints)
 *          ──▶ re-training ──▶ result.json, architecture.json, model.safetensors, report.html
 *
 * One run per seed, each in its own directory; `resume` continues a run directory from its last
 * checkpoint (the journal keeps every record; a `resume` record marks where the continuation
 * starts, and reports keep the last record of each step).
 */
import type {
  Architecture,
  Backbone,
  BackendDescription,
  ComponentRef,
  ExecutorFactory,
  Logger,
  ModuleTypes,
  PeftModuleType,
  Reporter,
  RunEvent,
  SearchOutcome,
  SearchStrategy,
  SpaceDefinition,
  Task,
  TrainingBackend,
} from '@peftkit/api';
import { ConfigError, DataError, encodeSafetensors, moduleId, resolveBudget } from '@peftkit/api';
import { dirname } from 'node:path';
import type { Origins } from '../config/origins.js';
import type { RunConfig } from '../config/types.js';
import type { Registry } from '../plugins/registry.js';
import {
  type LoopCheckpoint,
  memoryPartsOf,
  runSearchLoop,
  type SearchLoopResult,
  Workbench,
  workbenchRunner,
} from '@peftkit/runtime';
import type { RunResult } from '../report/result.js';
import { renderRunReport } from '../report/run-report.js';
import type { LoadedCheckpoint } from '../run/checkpoint.js';
import { checkFingerprint, fingerprintFromMeta, runFingerprint } from '../run/fingerprint.js';
import { checkInterrupt, InterruptedError } from '../run/interrupt.js';
import { RunDir } from '../run/rundir.js';
import { TensorboardLog } from '../tensorboard/run-log.js';
import { writeFileAtomic } from '../util/fs.js';
import { engineVersion } from '../util/paths.js';
import { type ArchitectureSpec, expandArchitecture } from './architecture.js';
import { importPeftAdapter } from './peft-import.js';

export interface RunOptions {
  command: 'search' | 'train';
  config: RunConfig;
  registry: Registry;
  /** Preset name (recorded in result.json), when the run came from one. */
  preset?: string | null;
  reporters: readonly Reporter[];
  log: Logger;
  /** Minimum seconds between checkpoints (default 30; 0 checkpoints after every step). */
  checkpointSeconds?: number;
  /** Directory that relative paths written at a config path are resolved against (its preset's). */
  baseDirFor?: (path: (string | number)[]) => string;
  /** Where the architecture of a `train` run was written (a file, or `file:line`), for errors. */
  architectureOrigin?: string;
  /** Where each configuration value was written, so a plugin's option errors name the file and line. */
  origins?: Origins;
}

/** Config fields whose plugin options may hold relative paths (data files, model directories). */
const COMPONENT_FIELDS = ['backbone', 'task', 'backend', 'space', 'strategy', 'executor'] as const;

/** The absolute base directory of each component, recorded in run.json for resume, eval and export. */
export function componentBaseDirs(baseDirFor: RunOptions['baseDirFor']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of COMPONENT_FIELDS) out[f] = baseDirFor?.([f]) ?? process.cwd();
  return out;
}

/** Base directories as recorded by a run directory (older runs: `fallback`). */
export function recordedBaseDirFor(
  dir: RunDir,
  fallback?: RunOptions['baseDirFor'],
): (path: (string | number)[]) => string {
  return (path) => dir.info.baseDirs?.[String(path[0])] ?? fallback?.(path) ?? process.cwd();
}

/** Package names of the plugins that contribute the components a run's configuration names. */
export function pluginsOf(registry: Registry, cfg: RunConfig): string[] {
  const refs: Array<[Parameters<Registry['list']>[0], ComponentRef | undefined]> = [
    ['backbone', cfg.backbone],
    ['task', cfg.task],
    ['training-backend', cfg.backend],
    ['search-space', cfg.space],
    ['search-strategy', cfg.strategy],
  ];
  const names = new Set<string>();
  for (const [kind, ref] of refs) {
    const c = ref && registry.list(kind).find((x) => x.name === ref.name);
    if (c && c.plugin.origin !== 'engine') names.add(c.plugin.name);
  }
  return [...names].sort();
}

export interface FinishedRun {
  dir: string;
  result: RunResult;
}

/** Every registered PEFT module type, by name. */
export async function moduleTypesOf(
  registry: Registry,
  ctx: ReturnType<Registry['context']>,
): Promise<ModuleTypes> {
  const types = new Map<string, PeftModuleType>();
  for (const c of registry.list('peft-module'))
    types.set(c.name, await registry.create('peft-module', { name: c.name }, ctx));
  return {
    get(name: string): PeftModuleType {
      const t = types.get(name);
      if (!t) {
        throw new ConfigError(
          `unknown PEFT module type "${name}" (registered: ${[...types.keys()].join(', ')})`,
        );
      }
      return t;
    },
    names: () => [...types.keys()],
  };
}

/**
 * A "strategy" for `train`: no search, the configured architecture is the outcome. `overBudget`
 * (the reason, already reported to the user) lets an architecture above the preset's budget through.
 */
export class FixedArchitecture implements SearchStrategy {
  constructor(
    private readonly architecture: Architecture,
    private readonly overBudget?: string,
  ) {}
  start(): void {}
  ask(): null {
    return null;
  }
  tell(): void {}
  state(): unknown {
    return null;
  }
  outcome(): SearchOutcome {
    return {
      architecture: this.architecture,
      summary: { fixed: true },
      ...(this.overBudget ? { budgetIgnored: this.overBudget } : {}),
    };
  }
}

export interface Components {
  backbone: Backbone;
  task: Task;
  backend: TrainingBackend;
  types: ModuleTypes;
  executor: ExecutorFactory;
}

/** The run's backbone, task, backend, module types and executor, created from its configuration. */
export async function createComponents(opts: RunOptions): Promise<Components> {
  const { registry, config, log } = opts;
  const ctxFor = (field: string) =>
    registry.context({ baseDir: opts.baseDirFor?.([field]) ?? process.cwd(), log });
  const at = (field: string) => ({ path: [field], origins: opts.origins });
  const backbone = await registry.create('backbone', config.backbone, ctxFor('backbone'), at('backbone'));
  const task = await registry.create('task', config.task, ctxFor('task'), at('task'));
  const backend = await registry.create('training-backend', config.backend, ctxFor('backend'), at('backend'));
  const types = await moduleTypesOf(registry, ctxFor('backbone'));
  const executor = await registry.create('executor', config.executor, ctxFor('executor'), at('executor'));
  return { backbone, task, backend, types, executor };
}

function describeModules(arch: Architecture, wb: Workbench): RunResult['architecture'] {
  return {
    modules: arch.modules.map((m) => {
      const p = wb.toolkit.point(m.point);
      return {
        id: moduleId(m.type, m.point),
        type: m.type,
        point: m.point,
        ...(p.layer !== undefined ? { layer: p.layer } : {}),
        rank: m.rank,
        params: wb.toolkit.count(m.type, m.point, m.rank, m.options ?? {}),
        ...(m.options && Object.keys(m.options).length ? { options: m.options } : {}),
      };
    }),
  };
}

/** Run one seed in `dir` (a new run directory, or an existing one to resume). */
export async function runOne(
  opts: RunOptions,
  seed: number,
  dir: RunDir,
  resuming: boolean,
): Promise<FinishedRun> {
  const started = performance.now();
  const { config } = opts;
  dir.lock(`peftkit ${opts.command}${resuming ? ' --resume' : ''}`);
  dir.fingerprint = runFingerprint(config, opts.registry.plugins());
  let checkpoint: LoadedCheckpoint<LoopCheckpoint> | undefined;
  try {
    checkpoint = resuming ? resumeCheckpoint(dir, opts.log) : undefined;
  } catch (e) {
    dir.close(); // refused before it started: the run is left as it was
    throw e;
  }
  const journal = dir.journal();
  // The continuation re-emits what came after the checkpoint: replay only the records up to it.
  const tensorboard =
    config.output.tensorboard === false
      ? undefined
      : TensorboardLog.open(
          dir.file('tensorboard'),
          dir.info.startedAt,
          resuming ? dir.readJournal().records.filter((r) => r.seq <= (checkpoint?.seq ?? 0)) : [],
        );
  const t0 = Date.now();
  const reporters = [...opts.reporters];
  const emit = (e: RunEvent) => {
    checkInterrupt();
    // Progress lines are for the screen only; everything else is journaled (and logged for TensorBoard).
    if (e.type !== 'progress') {
      const record = journal.append(e);
      tensorboard?.add(record);
    }
    for (const r of [...reporters]) {
      try {
        r.onEvent({ t: Date.now() - t0, ...e });
      } catch (err) {
        // A broken reporter must not lose the run: it is named, and switched off.
        reporters.splice(reporters.indexOf(r), 1);
        opts.log.warn(
          `${(err as Error).message ?? String(err)} (reporter switched off for the rest of the run)`,
        );
      }
    }
  };
  try {
    return await runIn(opts, seed, dir, checkpoint, resuming, emit, started);
  } catch (e) {
    // A failed run says why in its journal, so it never looks like an interrupted one.
    if (e instanceof InterruptedError) journal.append({ type: 'interrupted', reason: e.reason });
    else
      try {
        emit({
          type: 'run-failed',
          run: dir.id,
          error: e instanceof Error ? e.message : String(e),
          errorName: e instanceof Error ? e.name : typeof e,
        });
      } catch {
        /* the journal itself may be what failed */
      }
    throw e;
  } finally {
    tensorboard?.close();
    dir.close();
  }
}

/** The checkpoint a resumed run continues from, checked against the run's configuration. */
function resumeCheckpoint(dir: RunDir, log: Logger): LoadedCheckpoint<LoopCheckpoint> | undefined {
  const checkpoint = dir.loadCheckpoint<LoopCheckpoint>();
  if (!checkpoint) {
    if (dir.info.checkpointedAt) {
      throw new DataError(
        `the run checkpointed at ${dir.info.checkpointedAt}, but ${dir.checkpoints.dir} now holds no checkpoint (deleted?); resuming would silently start over: restore the checkpoints, or start a new run`,
        dir.path,
      );
    }
    return undefined;
  }
  for (const s of checkpoint.skipped)
    log.warn(`skipped an unreadable checkpoint ${s.file} (${s.error}); resuming from ${checkpoint.file}`);
  const saved = fingerprintFromMeta(checkpoint.meta);
  if (saved && dir.fingerprint)
    checkFingerprint(saved, dir.fingerprint, dir.file('config.json'), checkpoint.file);
  return checkpoint;
}

async function runIn(
  opts: RunOptions,
  seed: number,
  dir: RunDir,
  checkpoint: LoadedCheckpoint<LoopCheckpoint> | undefined,
  resuming: boolean,
  emit: (e: RunEvent) => void,
  started: number,
): Promise<FinishedRun> {
  const { config } = opts;
  const journal = dir.journal();
  emit(
    resuming
      ? { type: 'resume', fromCheckpointSeq: checkpoint?.seq ?? null, run: dir.id }
      : { type: 'run-start', command: opts.command, run: dir.id, seed, preset: opts.preset ?? null },
  );
  const c = await createComponents(opts);
  const log = opts.log;
  try {
    const imported =
      opts.command === 'train' && config.initAdapter
        ? importPeftAdapter(config.initAdapter, c.backbone, c.task.info, c.types)
        : undefined;
    // Tokenising the task can fail on the configuration (a maxLength too short for pairs).
    const wb = new Workbench({
      backbone: c.backbone,
      task: c.task,
      backend: c.backend,
      types: c.types,
      seed,
      log,
      ...memoryPartsOf(config),
      ...(imported ? { init: imported.params } : {}),
    });
    const budget = config.budget ? resolveBudget(config.budget, c.backbone.info.params) : null;
    let strategy: SearchStrategy;
    let space: SpaceDefinition = { name: 'none', candidates: [] };
    if (opts.command === 'train') {
      if (config.architecture && config.initAdapter)
        throw new ConfigError(
          'an adapter to start from (initAdapter) brings its own architecture; drop architecture',
          undefined,
          'initAdapter',
        );
      if (!config.architecture && !config.initAdapter)
        throw new ConfigError(
          '`train` needs an architecture (in the preset, --architecture FILE or --init-adapter DIR)',
          undefined,
          'architecture',
        );
      const arch = config.initAdapter
        ? imported!.architecture
        : expandArchitecture(
            config.architecture as ArchitectureSpec,
            c.backbone.info,
            c.types,
            opts.architectureOrigin ?? (resuming ? dir.file('config.json') : undefined),
          );
      // `train` trains what it is given; a preset budget only earns a warning (and result.json keeps it).
      const overBudget =
        budget && wb.toolkit.countArchitecture(arch) > budget.params
          ? 'a fixed architecture trained with `peftkit train`'
          : undefined;
      strategy = new FixedArchitecture(arch, overBudget);
    } else {
      if (config.initAdapter)
        throw new ConfigError(
          'initAdapter is for `train` (a search chooses its own modules)',
          undefined,
          'initAdapter',
        );
      if (!budget)
        throw new ConfigError(
          'a search needs a budget: set budget.params or budget.ratio',
          undefined,
          'budget',
        );
      const ctxFor = (field: string) =>
        opts.registry.context({ baseDir: opts.baseDirFor?.([field]) ?? process.cwd(), log });
      const at = (field: string) => ({ path: [field], origins: opts.origins });
      if (config.space)
        space = (
          await opts.registry.create('search-space', config.space, ctxFor('space'), at('space'))
        ).build(c.backbone.info, c.types);
      if (!config.strategy)
        throw new ConfigError('a search needs a strategy (strategy.name)', undefined, 'strategy');
      strategy = await opts.registry.create(
        'search-strategy',
        config.strategy,
        ctxFor('strategy'),
        at('strategy'),
      );
    }
    emit({
      type: 'setup',
      backbone: c.backbone.info.name,
      backboneParams: c.backbone.info.params,
      task: c.task.info.name,
      splits: wb.splitSizes(),
      budget: budget ? { params: budget.params, ratio: budget.ratio } : null,
      candidates: space.candidates.length,
      backend: c.backend.describe(),
    });
    const executor = c.executor.open({
      runLocal: workbenchRunner(wb),
      config: JSON.parse(JSON.stringify(config)),
      run: {
        id: dir.id,
        // What a worker rebuilds the workbench from: it loads its own plugins, and runs the jobs
        // it is given in its own process.
        config: JSON.parse(JSON.stringify({ ...config, plugins: [], executor: { name: 'local' } })),
        baseDirs: componentBaseDirs(opts.baseDirFor),
        seed,
        plugins: pluginsOf(opts.registry, config),
      },
    });
    let loop: SearchLoopResult;
    try {
      // An executor may hold connections (a queue): it is closed when the loop fails too.
      loop = await runSearchLoop({
        workbench: wb,
        executor,
        strategy,
        space,
        budget: budget ?? {
          params: Number.MAX_SAFE_INTEGER,
          ratio: 1,
          backboneParams: c.backbone.info.params,
        },
        recipes: config.recipes,
        seed,
        log,
        emit,
        save: async (state) => {
          dir.saveCheckpoint(state);
        },
        checkpointSeconds: opts.checkpointSeconds ?? 30,
        resume: checkpoint?.state,
        ...(config.strategy && opts.command === 'search'
          ? {
              strategyOwner: {
                plugin: opts.registry.get('search-strategy', config.strategy.name).plugin.name,
                name: config.strategy.name,
              },
            }
          : {}),
      });
    } finally {
      await executor.dispose();
    }
    const arch = loop.outcome.architecture;
    const backendInfo: BackendDescription = c.backend.describe();
    const result: RunResult = {
      peftkit: engineVersion(),
      command: opts.command,
      preset: opts.preset ?? null,
      strategy: opts.command === 'train' ? 'fixed' : config.strategy!.name,
      space: config.space?.name ?? null,
      task: {
        name: c.task.info.name,
        description: c.task.info.description,
        metrics: [...c.task.info.metrics],
        sizes: wb.splitSizes(),
      },
      backbone: {
        name: c.backbone.info.name,
        modelType: c.backbone.info.modelType,
        params: c.backbone.info.params,
      },
      seed,
      budget: budget ? { params: budget.params, ratio: budget.ratio } : null,
      trainableParams: wb.toolkit.countArchitecture(arch),
      headParams: wb.toolkit.headParams(),
      architecture: describeModules(arch, wb),
      metrics: { validation: loop.final.metrics.validation ?? {}, test: loop.final.metrics.test ?? {} },
      bestEpoch: loop.final.bestEpoch,
      timings: {
        searchSeconds: loop.searchSeconds,
        retrainSeconds: loop.retrainSeconds,
        totalSeconds: (performance.now() - started) / 1000,
      },
      searchCompute: loop.compute,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      backend: backendInfo,
      search: (loop.outcome.summary as Record<string, unknown> | undefined) ?? null,
      finishedAt: new Date().toISOString(),
    };
    // Every artifact is written atomically, result.json last: it marks the run finished, so a run
    // killed before it resumes (from its final checkpoint) and writes them all again.
    writeFileAtomic(dir.file('architecture.json'), `${JSON.stringify(arch, null, 2)}\n`);
    // Per-example test predictions, for the example-level statistics of comparisons.
    if (loop.final.predictions?.test)
      writeFileAtomic(dir.file('predictions.json'), JSON.stringify({ test: loop.final.predictions.test }));
    if (loop.final.params) {
      const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
      const specs = new Map<string, readonly number[]>();
      for (const m of arch.modules)
        for (const s of wb.toolkit.specs(m.type, m.point, m.rank, m.options ?? {}))
          specs.set(s.name, s.shape);
      for (const s of wb.toolkit.headSpecs()) specs.set(s.name, s.shape);
      for (const [name, data] of Object.entries(loop.final.params)) {
        tensors[name] = { dtype: 'F32', shape: [...(specs.get(name) ?? [data.length])], data };
      }
      writeFileAtomic(
        dir.file('model.safetensors'),
        encodeSafetensors(tensors as never, { format: 'peftkit', architecture: JSON.stringify(arch) }),
      );
    }
    emit({
      type: 'run-end',
      run: dir.id,
      trainableParams: result.trainableParams,
      validation: result.metrics.validation,
      test: result.metrics.test,
      seconds: result.timings.totalSeconds,
    });
    journal.sync();
    writeFileAtomic(dir.file('report.html'), renderRunReport(result, dir.readJournal().records));
    dir.writeResult(result);
    return { dir: dir.path, result };
  } finally {
    await c.backend.dispose();
  }
}

/** Run every seed of the configuration (or resume one run directory). */
export async function executeRuns(opts: RunOptions & { resume?: string }): Promise<FinishedRun[]> {
  const out: FinishedRun[] = [];
  let seeds = opts.config.seeds;
  let baseDirFor = opts.baseDirFor;
  let outputDir = opts.config.output.dir;
  if (opts.resume) {
    const dir = RunDir.open(opts.resume);
    // Locked before anything is read: a second resume of the same run stops here, naming the first.
    dir.lock(`peftkit ${opts.command} --resume`);
    try {
      if (dir.readResult())
        throw new ConfigError(`run ${dir.id} has already finished (result.json exists)`, dir.path);
      if (dir.info.command && dir.info.command !== opts.command) {
        throw new ConfigError(
          `run ${dir.id} was started by \`peftkit ${dir.info.command}\`; resume it with \`peftkit ${dir.info.command} --resume ${dir.path}\``,
          dir.path,
        );
      }
    } catch (e) {
      dir.close();
      throw e;
    }
    baseDirFor = recordedBaseDirFor(dir, opts.baseDirFor);
    out.push(await runOne({ ...opts, baseDirFor }, dir.info.seed, dir, true));
    // One invocation runs its seeds in order, so the seeds after this one never started: run them.
    const at = seeds.indexOf(dir.info.seed);
    seeds = at < 0 ? [] : seeds.slice(at + 1);
    outputDir = dirname(dir.path);
    if (seeds.length > 0)
      opts.log.info(`continuing with the configuration's remaining seeds: ${seeds.join(', ')}`);
  }
  for (const seed of seeds) {
    const dir = RunDir.create(outputDir, opts.config.output.name, seed, opts.config, new Date(), {
      command: opts.command,
      baseDirs: componentBaseDirs(baseDirFor),
    });
    out.push(await runOne({ ...opts, baseDirFor }, seed, dir, false));
  }
  return out;
}
