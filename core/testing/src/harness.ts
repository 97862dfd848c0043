/**
 * A harness for strategy tests: run a search strategy end to end on the tiny fixture backbone and
 * task with the engine's own workbench, local executor and search loop (ask/tell, checkpoints,
 * re-training), optionally interrupting it after some executor calls and resuming it from the last
 * checkpoint, as the engine does after a crash.
 *
 *   runTinySearch(options)            one search; its result, events, warnings and workbench
 *   interruptAndResume(make, k)       uninterrupted, killed after k executor calls, resumed
 *   tinyWorkbench(options)            the same workbench, for tests that count, evaluate or run jobs
 *   recordBatches(batches)            an `executor` option that records the jobs the search runs
 *   tinyRecipe(overrides)             a small training recipe
 *
 * Workbench-typed values are declared as `HarnessWorkbench` (what the harness itself uses); a test
 * names the runtime's `Workbench` as the type parameter `W` to use all of it.
 *
 * The workbench, executor and search loop come from @peftkit/runtime, a static dependency below
 * both this kit and the engine.
 */
import * as runtime from '@peftkit/runtime';
import type {
  Backbone,
  Budget,
  Executor,
  Job,
  ModuleTypes,
  RunEvent,
  SearchOutcome,
  SearchStrategy,
  SpaceDefinition,
  Task,
  TrainRecipe,
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

/** What the harness uses of the engine's Workbench. */
export interface HarnessWorkbench {
  readonly toolkit: {
    count(type: string, point: string, rank: number | null, options?: Record<string, unknown>): number;
    countArchitecture(arch: SearchOutcome['architecture']): number;
  };
  splitSizes(): Record<string, number>;
}

/** The engine's search-loop checkpoint, opaque to tests (they clone and pass it back). */
export type HarnessCheckpoint = { asks: number } & Record<string, unknown>;

export interface TinyWorkbenchOptions {
  types: ModuleTypes;
  /** Default `tinyBackbone({ hidden: 8 })`. */
  backbone?: Backbone;
  /** Default `tinyTask({ train: 64, validation: 24, test: 24 })`. */
  task?: Task;
  /** Seed of the workbench's search.weight/search.arch split of the training data (default 5). */
  workbenchSeed?: number;
}

/**
 * The engine's Workbench over the tiny fixtures (with an in-process ONNX Runtime backend), exactly
 * as runTinySearch builds it with the same options.
 */
export async function tinyWorkbench<W extends HarnessWorkbench = HarnessWorkbench>(
  o: TinyWorkbenchOptions,
): Promise<W> {
  return new runtime.Workbench({
    backbone: o.backbone ?? tinyBackbone({ hidden: 8 }),
    task: o.task ?? tinyTask({ train: 64, validation: 24, test: 24 }),
    backend: new InProcessBackend(),
    types: o.types,
    seed: o.workbenchSeed ?? 5,
    log: quietLogger,
  }) as unknown as W;
}

/**
 * An `executor` option that appends each batch of jobs the search runs to `batches`, with copies of
 * the jobs' parameters (strategies may update theirs in place once the results are back).
 */
export function recordBatches(batches: Job[][]): (inner: Executor) => Executor {
  return (inner) => ({
    run: async (jobs, onEvent) => {
      batches.push(jobs.map((j) => ('params' in j ? { ...j, params: structuredClone(j.params) } : j)));
      return inner.run(jobs, onEvent);
    },
    dispose: () => inner.dispose(),
  });
}

export interface TinySearchOptions<
  W extends HarnessWorkbench = HarnessWorkbench,
> extends TinyWorkbenchOptions {
  strategy: SearchStrategy;
  budget: Budget;
  /** The space definition (default: none), or a function of the workbench (to size it with its toolkit). */
  space?: SpaceDefinition | ((wb: W, backbone: Backbone) => SpaceDefinition);
  /** Overrides of `tinyRecipe()` for the search, and of `tinyRecipe({ epochs: 2 })` for the re-training. */
  recipes?: { search?: Partial<TrainRecipe>; retrain?: Partial<TrainRecipe> };
  /** Seed of the run (default 42). */
  seed?: number;
  /** Make the executor fail with "killed" on its call number `interruptAfter + 1`. */
  interruptAfter?: number;
  /** Called with every checkpoint (after every ask/tell round). */
  save?: (c: HarnessCheckpoint) => void | Promise<void>;
  resume?: HarnessCheckpoint;
  /** Wrap the executor (count or inspect jobs). */
  executor?: (inner: Executor) => Executor;
}

export interface TinySearch<W extends HarnessWorkbench = HarnessWorkbench> {
  result: runtime.SearchLoopResult;
  events: RunEvent[];
  /** The messages the search logged as warnings. */
  warnings: string[];
  wb: W;
}

export async function runTinySearch<W extends HarnessWorkbench = HarnessWorkbench>(
  o: TinySearchOptions<W>,
): Promise<TinySearch<W>> {
  const backbone = o.backbone ?? tinyBackbone({ hidden: 8 });
  const wb = await tinyWorkbench<W>({ ...o, backbone });
  const workbench = wb as unknown as runtime.Workbench;
  let executor: Executor = new runtime.LocalExecutor(runtime.workbenchRunner(workbench));
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
  const warnings: string[] = [];
  const space =
    typeof o.space === 'function' ? o.space(wb, backbone) : (o.space ?? { name: 'none', candidates: [] });
  const result = await runtime.runSearchLoop({
    workbench,
    executor,
    strategy: o.strategy,
    space,
    budget: o.budget,
    recipes: {
      search: tinyRecipe(o.recipes?.search),
      retrain: tinyRecipe({ epochs: 2, ...o.recipes?.retrain }),
    },
    seed: o.seed ?? 42,
    log: { ...quietLogger, warn: (m: string) => void warnings.push(m) },
    emit: (e: RunEvent) => events.push(e),
    save: o.save ? async (c) => o.save!(structuredClone(c) as unknown as HarnessCheckpoint) : undefined,
    checkpointSeconds: 0,
    resume: o.resume ? (structuredClone(o.resume) as unknown as runtime.LoopCheckpoint) : undefined,
  });
  return { result, events, warnings, wb };
}

/**
 * Run a search three times: uninterrupted; interrupted after `afterCalls` executor calls (keeping
 * its last checkpoint); and resumed from that checkpoint. Tests assert the last equals the first.
 */
export async function interruptAndResume<W extends HarnessWorkbench = HarnessWorkbench>(
  make: () => Omit<TinySearchOptions<W>, 'interruptAfter' | 'save' | 'resume'>,
  afterCalls: number,
): Promise<{ reference: TinySearch<W>; resumed: TinySearch<W>; checkpoint: HarnessCheckpoint }> {
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
