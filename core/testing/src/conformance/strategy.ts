/**
 * Conformance suite for search strategies (extension point `search-strategy`).
 *
 *   import { describeSearchStrategy } from '@peftkit/testing';
 *   import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
 *   describeSearchStrategy('my-strategy', () => new MyStrategy({ trials: 3 }), {
 *     types: builtinModuleTypes,
 *     space: 's1-like',
 *   });
 *
 * The suite plays the engine's part on the tiny fixture backbone and task: it starts the strategy,
 * asks, runs every job with the engine's own job runner (real training, gradients and evaluation,
 * on ONNX Runtime in this process) and tells the results, in order, until `ask` returns null. It
 * checks the documented contract of SearchStrategy:
 * - protocol: `ask` returns a non-empty array of well-formed jobs or null; jobs are plain data
 *   (executors may send them elsewhere); train job ids are unique; gradient indices lie inside
 *   their split; state() after `start` and after every `tell` is plain data; events have a type;
 *   the search ends within `maxAsks` asks;
 * - the outcome: every module is a candidate of the space (type, point, one of its ranks, its
 *   options) or, for an empty space, a valid module of the backbone; no module twice; the exact
 *   parameter count is within the budget unless `budgetIgnored` says why; a `final` result counts
 *   the same parameters and scores validation and test;
 * - the test split: never trained on, selected on or scored during the search; once a job has read
 *   it, no further training or gradient job follows, and the outcome carries the `final` model it
 *   scored;
 * - batching: a split the search takes gradient batches of is walked in epochs (the first epoch's
 *   batches visit every example once) and, with `recipe.groupByLength` (the default), grouped by
 *   length as the trainer groups them (`searchBatches` from @peftkit/api does both);
 * - determinism: a second run with the same seed asks for exactly the same jobs (compared by
 *   fingerprint) and gives the same outcome (wall-clock `seconds` aside);
 * - resume: a new instance started with a copy of state() taken after k asks (k = 0, about N/3,
 *   about 2N/3 and N-1 of the N asks; a structuredClone, and once the engine's checkpoint
 *   encoding) asks for the same remaining jobs and gives the same outcome.
 *
 * The suite uses the job runtime's Workbench and job runner (@peftkit/runtime, the package the
 * engine runs jobs with), so that what passes here runs the same way in a real run.
 */
import * as runtime from '@peftkit/runtime';
import type {
  Architecture,
  Backbone,
  BackboneInfo,
  Budget,
  DataSplit,
  Job,
  JobRunner,
  Logger,
  ModuleToolkit,
  ModuleTypes,
  SearchContext,
  SearchOutcome,
  SearchSpace,
  SearchStrategy,
  SpaceDefinition,
  StrategyEvent,
  Task,
  TrainRecipe,
  TrainingBackend,
} from '@peftkit/api';
import { Rng, moduleId } from '@peftkit/api';
import { expect } from 'chai';
import { type TinyBackboneOptions, type TinyTaskOptions, tinyBackbone, tinyTask } from '../fixtures.js';
import { tinyRecipe } from '../harness.js';
import { InProcessBackend } from '../inprocess-backend.js';
import {
  type Factory,
  type ModuleTypeSource,
  SUITE_TIMEOUT_MS,
  fingerprint,
  plainDataProblem,
  quietLogger,
  toModuleTypes,
  withoutTimings,
} from './common.js';
import { mocha } from './mocha.js';
import { type FixtureSpaceName, fixtureSpace } from './spaces.js';

export interface SearchStrategySuiteOptions {
  /** Module types the space and the strategy use (e.g. @peftkit/plugin-peft-modules' builtinModuleTypes). */
  types: ModuleTypeSource;
  /**
   * The space searched: a fixture space name (see fixtureSpace; default `s1-like`), a definition,
   * a SearchSpace (built on the fixture backbone), or a function building one.
   */
  space?:
    | FixtureSpaceName
    | SpaceDefinition
    | SearchSpace
    | ((backbone: BackboneInfo, types: ModuleTypes) => SpaceDefinition);
  /**
   * Budget in parameters, or a function of the space (default: 30% of the space at its largest
   * ranks; for an empty space, a quarter of the backbone's parameters).
   */
  budget?:
    number | ((s: { space: SpaceDefinition; modules: ModuleToolkit; backbone: BackboneInfo }) => number);
  /** Changes to the search (and re-train) recipe; the default is 2 epochs of batch 8, AdamW, lr 3e-3. */
  recipe?: Partial<TrainRecipe>;
  /** Run seed (default 42). */
  seed?: number;
  /** Fixture backbone and task sizes (default: hidden 8, 2 layers; 32/16/16 examples). */
  backbone?: TinyBackboneOptions;
  task?: TinyTaskOptions;
  /** A search asking more often than this fails (default 5000). */
  maxAsks?: number;
  /** Per-test time limit in ms (default 60 s). */
  timeout?: number;
}

/** What the suite uses of @peftkit/runtime (its Workbench, job runner and state encoding). */
interface KitWorkbench {
  readonly toolkit: ModuleToolkit;
  splitSizes(): Record<DataSplit, number>;
  splitLengths(): Record<DataSplit, ArrayLike<number>>;
  lengths(split: DataSplit): ArrayLike<number>;
}
interface EngineApi {
  Workbench: new (parts: {
    backbone: Backbone;
    task: Task;
    backend: TrainingBackend;
    types: ModuleTypes;
    seed: number;
    log: Logger;
  }) => KitWorkbench;
  workbenchRunner(wb: KitWorkbench): JobRunner;
  encodeState(state: unknown): { json: string; tensors: Record<string, unknown> };
  decodeState(json: string, tensors: Record<string, unknown>): unknown;
}

/** The job runtime (@peftkit/runtime, a static dependency). */
async function loadEngine(): Promise<EngineApi> {
  return runtime;
}

const DEFAULT_RECIPE: TrainRecipe = tinyRecipe({ epochs: 2, weightDecay: 0 });

const SPLITS: readonly DataSplit[] = ['train', 'validation', 'test', 'search.weight', 'search.arch'];

/** Everything one suite's runs share. */
interface Env {
  engine: EngineApi;
  backbone: Backbone;
  task: Task;
  types: ModuleTypes;
  space: SpaceDefinition;
  budget: Budget;
  recipe: TrainRecipe;
  seed: number;
  wb: KitWorkbench;
  run: JobRunner;
}

async function setup(o: SearchStrategySuiteOptions): Promise<Env> {
  const engine = await loadEngine();
  const backbone = tinyBackbone({ hidden: 8, ...o.backbone });
  const task = tinyTask({ train: 32, validation: 16, test: 16, ...o.task });
  const types = toModuleTypes(o.types);
  const seed = o.seed ?? 42;
  const wb = new engine.Workbench({
    backbone,
    task,
    backend: new InProcessBackend(),
    types,
    seed,
    log: quietLogger,
  });
  const s = o.space ?? 's1-like';
  const space: SpaceDefinition =
    typeof s === 'string'
      ? fixtureSpace(s, backbone.info, types)
      : typeof s === 'function'
        ? s(backbone.info, types)
        : 'build' in s
          ? s.build(backbone.info, types)
          : s;
  const full = space.candidates.reduce(
    (a, c) =>
      a + wb.toolkit.count(c.type, c.point, c.ranks ? c.ranks[c.ranks.length - 1]! : null, { ...c.options }),
    0,
  );
  const params =
    typeof o.budget === 'function'
      ? o.budget({ space, modules: wb.toolkit, backbone: backbone.info })
      : (o.budget ?? (full > 0 ? Math.floor(0.3 * full) : Math.floor(0.25 * backbone.info.params)));
  const budget: Budget = {
    params,
    ratio: params / backbone.info.params,
    backboneParams: backbone.info.params,
  };
  return {
    engine,
    backbone,
    task,
    types,
    space,
    budget,
    recipe: { ...DEFAULT_RECIPE, ...o.recipe },
    seed,
    wb,
    run: engine.workbenchRunner(wb),
  };
}

function context(env: Env, events: StrategyEvent[]): SearchContext {
  return {
    backbone: env.backbone.info,
    task: env.task.info,
    space: env.space,
    budget: env.budget,
    seed: env.seed,
    rng: new Rng(env.seed),
    splitSizes: env.wb.splitSizes(),
    splitLengths: env.wb.splitLengths(),
    recipes: { search: env.recipe, retrain: env.recipe },
    modules: env.wb.toolkit,
    emit: (e) => void events.push(e),
    log: quietLogger,
  };
}

/** Splits a job reads, and whether it trains or selects on them (`learns`). */
function splitsRead(job: Job): { split: DataSplit; learns: boolean }[] {
  switch (job.kind) {
    case 'gradient':
      return [{ split: job.split, learns: true }];
    case 'evaluate':
      return [{ split: job.split, learns: false }];
    case 'train':
      return [
        { split: job.train, learns: true },
        ...(job.select ? [{ split: job.select, learns: true }] : []),
        ...job.score.map((split) => ({ split, learns: job.phase === 'search' })),
      ];
  }
}

/** Why a job is malformed (beyond what the engine's runner checks), or null. */
function jobProblem(job: Job, sizes: Record<DataSplit, number>, trainIds: Set<string>): string | null {
  if (!job || typeof job !== 'object') return 'a job must be an object';
  if (!['train', 'gradient', 'evaluate'].includes((job as Job).kind))
    return `unknown job kind ${String(job.kind)}`;
  for (const { split } of splitsRead(job))
    if (!SPLITS.includes(split)) return `unknown split ${String(split)}`;
  if (job.kind === 'gradient') {
    if (!Array.isArray(job.indices) || job.indices.length === 0)
      return 'a gradient job needs a non-empty batch';
    const bad = job.indices.find((i) => !Number.isInteger(i) || i < 0 || i >= sizes[job.split]);
    if (bad !== undefined) return `index ${bad} is outside split ${job.split} (${sizes[job.split]} examples)`;
  } else if (job.kind === 'evaluate') {
    if (!Number.isInteger(job.batchSize) || job.batchSize < 1) return `batchSize ${job.batchSize}`;
  } else {
    if (typeof job.id !== 'string' || job.id === '') return 'a train job needs an id';
    if (trainIds.has(job.id)) return `train job id "${job.id}" is used twice (ids are unique within the run)`;
    trainIds.add(job.id);
    if (job.phase !== 'search' && job.phase !== 'retrain') return `phase ${String(job.phase)}`;
    if (!(job.recipe.epochs >= 1 && job.recipe.batchSize >= 1))
      return 'the recipe needs epochs and batchSize >= 1';
    if (!Number.isInteger(job.seed)) return `seed ${job.seed} is not an integer`;
  }
  return plainDataProblem(job, 'job');
}

/** Problems of an outcome's architecture against the space, the backbone and the budget. */
function outcomeProblems(env: Env, outcome: SearchOutcome): string[] {
  const problems: string[] = [];
  const arch: Architecture | undefined = outcome?.architecture;
  if (!arch || !Array.isArray(arch.modules)) return ['outcome().architecture.modules must be a list'];
  const points = new Map(env.backbone.info.points.map((p) => [p.name, p]));
  const candidates = new Map(env.space.candidates.map((c) => [c.id, c]));
  const seen = new Set<string>();
  for (const m of arch.modules) {
    const id = moduleId(m.type, m.point);
    if (seen.has(id)) problems.push(`${id} appears twice`);
    seen.add(id);
    if (!env.types.names().includes(m.type)) {
      problems.push(`${id}: unknown module type ${m.type}`);
      continue;
    }
    const type = env.types.get(m.type);
    const point = points.get(m.point);
    if (!point) {
      problems.push(`${id}: no attachment point ${m.point}`);
      continue;
    }
    if (!type.attachesTo.includes(point.kind) || !type.accepts(point))
      problems.push(`${id}: ${m.type} cannot attach to ${point.kind} point ${m.point}`);
    if (type.ranked !== (m.rank !== null))
      problems.push(`${id}: rank ${m.rank} for a${type.ranked ? ' ranked' : 'n unranked'} type`);
    if (m.rank !== null && !(Number.isInteger(m.rank) && m.rank >= 1)) problems.push(`${id}: rank ${m.rank}`);
    if (env.space.candidates.length > 0) {
      const c = candidates.get(id);
      if (!c) {
        problems.push(`${id} is not a candidate of space ${env.space.name}`);
        continue;
      }
      if (c.ranks && !c.ranks.includes(m.rank!))
        problems.push(`${id}: rank ${m.rank} is not one of the candidate's ranks [${c.ranks.join(', ')}]`);
      if (JSON.stringify(sortKeys(m.options ?? {})) !== JSON.stringify(sortKeys(c.options)))
        problems.push(
          `${id}: options ${JSON.stringify(m.options ?? {})} differ from the candidate's ${JSON.stringify(c.options)}`,
        );
    }
  }
  if (problems.length > 0) return problems;
  const count = env.wb.toolkit.countArchitecture(arch);
  if (outcome.budgetIgnored === undefined) {
    if (count > env.budget.params)
      problems.push(`${count} trainable parameters, over the budget of ${env.budget.params}`);
  } else if (typeof outcome.budgetIgnored !== 'string' || outcome.budgetIgnored === '') {
    problems.push('budgetIgnored must say why the budget is ignored');
  }
  if (outcome.final) {
    const f = outcome.final;
    if (f.kind !== 'train') problems.push('final must be a train result');
    if (f.trainableParams !== count)
      problems.push(`final.trainableParams ${f.trainableParams}, but the architecture has ${count}`);
    for (const split of ['validation', 'test'] as const) {
      if (!f.metrics?.[split]) problems.push(`final.metrics.${split} is missing (the run reports it)`);
    }
  }
  const plain = plainDataProblem(outcome, 'outcome');
  if (plain)
    problems.push(
      `the outcome is recorded in checkpoints and result.json, so it must be plain data: ${plain}`,
    );
  return problems;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, x]) => [k, sortKeys(x)]),
  );
}

function comparable(o: SearchOutcome): unknown {
  return withoutTimings({
    architecture: o.architecture,
    budgetIgnored: o.budgetIgnored,
    final: o.final,
    summary: o.summary,
  });
}

/**
 * Problems of a search's own batching (gradient jobs), by split. The first epoch is the first
 * batches whose sizes add up to the split: they must hold every example once. With grouping (the
 * recipe's default), and a split that fits in one mega-batch of 16 batches, the trainer's rule
 * sorts the whole split by length before cutting it, so the batches' length ranges add up to at
 * most the split's own range; ungrouped batches of random examples exceed it.
 */
function batchProblems(env: Env, batches: Map<DataSplit, number[][]>, grouped: boolean): string[] {
  const problems: string[] = [];
  for (const [split, list] of batches) {
    const n = env.wb.splitSizes()[split];
    const epoch: number[][] = [];
    let seen = 0;
    for (const b of list) {
      if (seen >= n) break;
      epoch.push(b);
      seen += b.length;
    }
    if (seen < n) continue; // the search ended within its first epoch of this split
    const visits = new Int32Array(n);
    for (const b of epoch) for (const i of b) visits[i]!++;
    if (seen !== n || visits.some((v) => v !== 1)) {
      problems.push(`${split}: the first ${epoch.length} batches do not visit every example once (an epoch)`);
      continue;
    }
    const batchSize = Math.max(...epoch.map((b) => b.length));
    if (!grouped || n > 16 * batchSize) continue;
    const lengths = env.wb.lengths(split);
    const range = (idx: readonly number[]) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (const i of idx) {
        lo = Math.min(lo, lengths[i]!);
        hi = Math.max(hi, lengths[i]!);
      }
      return hi - lo;
    };
    const spread = epoch.reduce((a, b) => a + range(b), 0);
    const whole = range(Array.from({ length: n }, (_, i) => i));
    if (spread > whole)
      problems.push(
        `${split}: with groupByLength the first epoch's batches span ${spread} tokens of length in all, more than the split's range ${whole}: batches are not grouped by length (use searchBatches from @peftkit/api)`,
      );
  }
  return problems;
}

function describeBatch(jobs: readonly Job[]): string {
  return jobs
    .map(
      (j) =>
        `${j.kind}(${splitsRead(j)
          .map((s) => s.split)
          .join(',')})`,
    )
    .join(' ');
}

interface Trace {
  /** Fingerprint of each ask's batch. */
  batches: string[];
  outcome: SearchOutcome;
  /** Copies of state() after k asks (k = 0: after start). */
  states: Map<number, unknown>;
  /** Violations of the test-split rule. */
  testProblems: string[];
  /** Indices of each gradient job, by split, in the order asked (repeats in a row once). */
  gradientBatches: Map<DataSplit, number[][]>;
}

interface DriveOptions {
  /** Check the protocol as the search goes (the reference run). */
  check?: boolean;
  /** Copy state() after these numbers of asks. */
  capture?: readonly number[];
  /** Start from this state, taken after `asks` asks. */
  resume?: { asks: number; state: unknown; how: string };
  /** Fingerprints to compare each batch with. */
  expected?: readonly string[];
  maxAsks: number;
}

async function drive(env: Env, factory: Factory<SearchStrategy>, d: DriveOptions): Promise<Trace> {
  const events: StrategyEvent[] = [];
  const strategy = await factory();
  const run = d.resume ? `resumed (${d.resume.how}) after ${d.resume.asks} asks` : 'run';
  strategy.start(context(env, events), d.resume?.state);
  const trace: Trace = {
    batches: [],
    outcome: null as unknown as SearchOutcome,
    states: new Map(),
    testProblems: [],
    gradientBatches: new Map(),
  };
  const sizes = env.wb.splitSizes();
  const trainIds = new Set<string>();
  const checkState = (when: string) => {
    const state = strategy.state();
    const p = plainDataProblem(state, 'state');
    expect(p, `state() ${when} must be plain data (it is checkpointed): ${p}`).to.equal(null);
    structuredClone(state);
  };
  let asks = d.resume?.asks ?? 0;
  if (d.check) checkState('after start');
  if (d.capture?.includes(asks)) trace.states.set(asks, structuredClone(strategy.state()));
  let testRead = false;
  for (;;) {
    const jobs = strategy.ask();
    if (jobs === null) break;
    expect(asks, `the search did not end within ${d.maxAsks} asks`).to.be.lessThan(d.maxAsks);
    const label = `${run}: ask #${asks + 1}`;
    if (d.check) {
      expect(
        Array.isArray(jobs),
        `${label} returned ${String(jobs)}; ask returns a list of jobs or null`,
      ).to.equal(true);
      expect(
        jobs.length,
        `${label} returned an empty batch; return null when the search is over`,
      ).to.be.greaterThan(0);
      for (const job of jobs) {
        const p = jobProblem(job, sizes, trainIds);
        expect(p, `${label}: ${p}`).to.equal(null);
        const reads = splitsRead(job);
        const readsTest = reads.some((r) => r.split === 'test');
        if (reads.some((r) => r.split === 'test' && r.learns))
          trace.testProblems.push(
            `${label}: a ${job.kind} job trains, selects or scores a trial on the test split`,
          );
        if (testRead && job.kind !== 'evaluate')
          trace.testProblems.push(
            `${label}: a ${job.kind} job after the test split was read (the search must be over by then)`,
          );
        testRead ||= readsTest;
        if (job.kind === 'gradient') {
          // Several passes on one batch in a row (a second-order step) count as one batch.
          const list = trace.gradientBatches.get(job.split) ?? [];
          const last = list[list.length - 1];
          if (!last || last.join() !== job.indices.join()) list.push([...job.indices]);
          trace.gradientBatches.set(job.split, list);
        }
      }
    }
    const fp = fingerprint(jobs);
    if (d.expected) {
      expect(
        asks,
        `${run} asks for more batches than the reference run (${d.expected.length})`,
      ).to.be.lessThan(d.expected.length);
      expect(fp, `${label} (${describeBatch(jobs)}) differs from the reference run's`).to.equal(
        d.expected[asks],
      );
    }
    trace.batches.push(fp);
    const results = [];
    for (const job of jobs) results.push(await env.run(job, () => {}));
    strategy.tell(results);
    asks++;
    if (d.check) checkState(`after tell #${asks}`);
    if (d.capture?.includes(asks)) trace.states.set(asks, structuredClone(strategy.state()));
  }
  if (d.expected) expect(asks, `${run}: number of asks`).to.equal(d.expected.length);
  trace.outcome = strategy.outcome();
  if (d.check) {
    if (testRead && !trace.outcome.final)
      trace.testProblems.push(
        'the search read the test split, but the outcome has no final model (test scores are for the final model only)',
      );
    for (const e of events) {
      expect(
        typeof e?.type === 'string' && e.type !== '',
        `event ${JSON.stringify(e)?.slice(0, 120)} needs a type`,
      ).to.equal(true);
      const p = plainDataProblem(e, 'event');
      expect(p, `events are journaled, so they must be plain data: ${p}`).to.equal(null);
    }
  }
  return trace;
}

export function describeSearchStrategy(
  name: string,
  factory: Factory<SearchStrategy>,
  opts: SearchStrategySuiteOptions,
): void {
  const { describe, it } = mocha('describeSearchStrategy');
  const maxAsks = opts.maxAsks ?? 5000;

  describe(`search strategy ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);
    let env: Promise<Env> | undefined;
    let ref: Promise<Trace> | undefined;
    let again: Promise<{ trace: Trace; points: number[] }> | undefined;
    const environment = () => (env ??= setup(opts));
    const reference = () => (ref ??= environment().then((e) => drive(e, factory, { check: true, maxAsks })));
    const resumePoints = (n: number) =>
      [...new Set([0, Math.floor(n / 3), Math.floor((2 * n) / 3), n - 1])].filter(
        (k) => k >= 0 && k < Math.max(n, 1),
      );
    const second = () =>
      (again ??= reference().then(async (r) => {
        const points = resumePoints(r.batches.length);
        const trace = await drive(await environment(), factory, {
          expected: r.batches,
          capture: points,
          maxAsks,
        });
        return { trace, points };
      }));

    it('follows the ask/tell protocol: well-formed plain-data jobs, plain-data state, and an end', async () => {
      await reference();
    });

    it('returns an architecture valid for the space, within the budget', async () => {
      const r = await reference();
      const problems = outcomeProblems(await environment(), r.outcome);
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });

    it('never trains, selects or scores trials on the test split during the search', async () => {
      const r = await reference();
      expect(r.testProblems, r.testProblems.join('\n')).to.deep.equal([]);
    });

    it('walks each split it takes gradient batches of in epochs, grouped by length (recipe.groupByLength)', async () => {
      const r = await reference();
      const problems = batchProblems(
        await environment(),
        r.gradientBatches,
        opts.recipe?.groupByLength ?? true,
      );
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });

    it('is deterministic: the same seed asks for the same jobs and gives the same outcome', async () => {
      const r = await reference();
      const { trace } = await second();
      expect(comparable(trace.outcome), 'outcome of a second run').to.deep.equal(comparable(r.outcome));
    });

    it('resumes from a copy of state() after k asks (structuredClone, checkpoint encoding) to the identical search', async () => {
      const r = await reference();
      const { trace, points } = await second();
      const e = await environment();
      const checkpointAt = points[Math.min(2, points.length - 1)]!;
      for (const k of points) {
        const captured = trace.states.get(k);
        const viaCheckpoint = k === checkpointAt;
        let state: unknown;
        if (viaCheckpoint) {
          const enc = e.engine.encodeState(captured);
          state = e.engine.decodeState(enc.json, enc.tensors);
        } else state = structuredClone(captured);
        const how = viaCheckpoint ? 'checkpoint encoding' : 'structuredClone';
        const resumed = await drive(e, factory, {
          resume: { asks: k, state, how },
          expected: r.batches,
          maxAsks,
        });
        expect(
          comparable(resumed.outcome),
          `outcome after resuming (${how}) from the state after ${k} asks`,
        ).to.deep.equal(comparable(r.outcome));
      }
    });
  });
}
