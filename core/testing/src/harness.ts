/**
 * A harness for strategy tests: run a search strategy end to end on the tiny fixture backbone and
 * task with the engine's own workbench, local executor and search loop (ask/tell, checkpoints,
 * re-training), optionally interrupting it after some executor calls and resuming it from the last
 * checkpoint, as the engine does after a crash.
 *
 * The engine is loaded when the harness runs (not imported at build time): the engine's own tests
 * use this package, so a build-time dependency would be circular.
 */
import type {
  Backbone,
  Budget,
  Executor,
  JobRunner,
  Logger,
  ModuleTypes,
  RunEvent,
  SearchOutcome,
  SearchStrategy,
  SpaceDefinition,
  Task,
  TrainRecipe,
  TrainResult,
  TrainingBackend,
} from '@peftkit/api';
import { quietLogger } from './conformance/common.js';
import { tinyBackbone, tinyTask } from './fixtures.js';
import { InProcessBackend } from './inprocess-backend.js';

/** A small, fast training recipe; override what a test needs. */
export function tinyRecipe(overrides: Partial<TrainRecipe> = {}): TrainRecipe {
  return {
    epochs: 3,
    batchSize: 8,
    optimizer: 'adamw',
    lr: 3e-3,
    weightDecay: 1e-4,
    betas: [0.9, 0.999],
    eps: 1e-8,
    momentum: 0,
    schedule: 'linear',
    warmupRatio: 0,
    clipNorm: 2,
    evalEvery: 1,
    dropout: 0,
    ...overrides,
  };
}

/** What the harness uses of @peftkit/engine. */
export interface HarnessWorkbench {
  readonly toolkit: {
    count(type: string, point: string, rank: number | null, options?: Record<string, unknown>): number;
    countArchitecture(arch: SearchOutcome['architecture']): number;
  };
  splitSizes(): Record<string, number>;
}

/** The engine's search-loop checkpoint, opaque to tests (they clone and pass it back). */
export type HarnessCheckpoint = { asks: number } & Record<string, unknown>;

interface EngineHarnessApi {
  Workbench: new (parts: {
    backbone: Backbone;
    task: Task;
    backend: TrainingBackend;
    types: ModuleTypes;
    seed: number;
    log: Logger;
  }) => HarnessWorkbench;
  workbenchRunner(wb: HarnessWorkbench): JobRunner;
  LocalExecutor: new (runner: JobRunner) => Executor;
  runSearchLoop(parts: Record<string, unknown>): Promise<{
    outcome: SearchOutcome;
    final: TrainResult;
    searchSeconds: number;
    retrainSeconds: number;
    compute: { gradientJobs: number; trainSteps: number; evaluateJobs: number; trainJobs: number };
  }>;
}

const ENGINE_PACKAGE: string = '@peftkit/engine';

export async function loadEngineForHarness(): Promise<EngineHarnessApi> {
  return (await import(ENGINE_PACKAGE)) as EngineHarnessApi;
}

export interface TinySearchOptions {
  strategy: SearchStrategy;
  types: ModuleTypes;
  budget: Budget;
  /** The space definition, or a function of the workbench (to size it with its toolkit). */
  space?: SpaceDefinition | ((wb: HarnessWorkbench, backbone: Backbone) => SpaceDefinition);
  recipes?: { search?: Partial<TrainRecipe>; retrain?: Partial<TrainRecipe> };
  backbone?: Backbone;
  task?: Task;
  /** Seed of the workbench's search/arch split (default 5) and of the run (default 42). */
  workbenchSeed?: number;
  seed?: number;
  /** Make the executor fail with "killed" on its call number `interruptAfter + 1`. */
  interruptAfter?: number;
  /** Called with every checkpoint (after every ask/tell round). */
  save?: (c: HarnessCheckpoint) => void | Promise<void>;
  resume?: HarnessCheckpoint;
  /** Wrap the executor (count or inspect jobs). */
  executor?: (inner: Executor) => Executor;
}

export interface TinySearch {
  result: Awaited<ReturnType<EngineHarnessApi['runSearchLoop']>>;
  events: RunEvent[];
  wb: HarnessWorkbench;
}

export async function runTinySearch(o: TinySearchOptions): Promise<TinySearch> {
  const engine = await loadEngineForHarness();
  const backbone = o.backbone ?? tinyBackbone({ hidden: 8 });
  const task = o.task ?? tinyTask({ train: 64, validation: 24, test: 24 });
  const wb = new engine.Workbench({
    backbone,
    task,
    backend: new InProcessBackend(),
    types: o.types,
    seed: o.workbenchSeed ?? 5,
    log: quietLogger,
  });
  let executor: Executor = new engine.LocalExecutor(engine.workbenchRunner(wb));
  if (o.interruptAfter !== undefined) {
    const inner = executor;
    let calls = 0;
    executor = {
      run: async (jobs, onEvent) => {
        if (++calls > o.interruptAfter!) throw new Error('killed');
        return inner.run(jobs, onEvent);
      },
      dispose: () => inner.dispose(),
    };
  }
  if (o.executor) executor = o.executor(executor);
  const events: RunEvent[] = [];
  const space =
    typeof o.space === 'function' ? o.space(wb, backbone) : (o.space ?? { name: 'none', candidates: [] });
  const result = await engine.runSearchLoop({
    workbench: wb,
    executor,
    strategy: o.strategy,
    space,
    budget: o.budget,
    recipes: {
      search: tinyRecipe(o.recipes?.search),
      retrain: tinyRecipe({ epochs: 2, ...o.recipes?.retrain }),
    },
    seed: o.seed ?? 42,
    log: quietLogger,
    emit: (e: RunEvent) => events.push(e),
    save: o.save ? async (c: HarnessCheckpoint) => o.save!(structuredClone(c)) : undefined,
    checkpointSeconds: 0,
    resume: o.resume ? structuredClone(o.resume) : undefined,
  });
  return { result, events, wb };
}

/**
 * Run a search three times: uninterrupted; interrupted after `afterCalls` executor calls (keeping
 * its last checkpoint); and resumed from that checkpoint. Tests assert the last equals the first.
 */
export async function interruptAndResume(
  make: () => Omit<TinySearchOptions, 'interruptAfter' | 'save' | 'resume'>,
  afterCalls: number,
): Promise<{ reference: TinySearch; resumed: TinySearch; checkpoint: HarnessCheckpoint }> {
  const reference = await runTinySearch(make());
  let checkpoint: HarnessCheckpoint | undefined;
  let error: unknown;
  try {
    await runTinySearch({ ...make(), interruptAfter: afterCalls, save: (c) => void (checkpoint = c) });
  } catch (e) {
    error = e;
  }
  if (!(error instanceof Error) || error.message !== 'killed') {
    throw new Error(
      `the run was expected to be interrupted after ${afterCalls} executor calls (${String(error)})`,
    );
  }
  if (!checkpoint) throw new Error('the interrupted run saved no checkpoint');
  const resumed = await runTinySearch({ ...make(), resume: checkpoint });
  return { reference, resumed, checkpoint };
}
