/**
 * The worker's side of a search trial (a train job a random-search or AutoPEFT-style strategy
 * asked for): rebuild the run's workbench from the trial's self-contained RunSpec with this
 * process's own plugins, train the job on it, and return its result with the events it emitted.
 * The spec is checked first (its shape, the train job against a schema, the plugins it needs, the
 * configuration against this worker's registry).
 *
 * Building a workbench (loading the backbone, tokenising the task, starting the backend) costs
 * more than a small trial, so idle workbenches are kept for the next trial of the same run, at most
 * `keep` of them (one per trial this worker runs at a time). A workbench serves one trial at a
 * time: its compiled programs are per (super)net, and two trials would release each other's.
 */
import type { JobResult, Logger, RunEvent, TrialOutput, TrialSpec } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';
import { passMemoryOf, Workbench, workbenchRunner } from '@peftkit/runtime';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { MODULE_CHOICE_SCHEMA, RECIPE_SCHEMA } from '../config/schema.js';
import type { Registry } from '../plugins/registry.js';
import { createAjv, validateWith } from '../schema/problems.js';
import { checkRunSpec, checkWorkerPlugins, workerConfig } from './cell-worker.js';
import { createComponents, type Components } from './run.js';

const SPLIT = { enum: ['train', 'validation', 'test', 'search.weight', 'search.arch'] };

const TRIAL_JOB_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'id', 'phase', 'architecture', 'recipe', 'train', 'select', 'score', 'seed'],
  properties: {
    kind: { const: 'train' },
    id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
    phase: { const: 'search' },
    architecture: {
      type: 'object',
      required: ['modules'],
      properties: { modules: { type: 'array', items: MODULE_CHOICE_SCHEMA } },
    },
    recipe: {
      ...RECIPE_SCHEMA,
      required: ['epochs', 'batchSize', 'optimizer', 'lr', 'schedule', 'clipNorm', 'evalEvery', 'dropout'],
    },
    train: SPLIT,
    select: { anyOf: [SPLIT, { type: 'null' }] },
    score: { type: 'array', items: SPLIT },
    seed: { type: 'integer', minimum: 0 },
    keepParams: { type: 'boolean' },
  },
};

const validateJob = createAjv().compile(TRIAL_JOB_SCHEMA);

/** Throws a ConfigError naming the first field of `value` that is not a TrialSpec's. */
export function checkTrialSpec(value: unknown): TrialSpec {
  const fail = (field: string, expected: string): never => {
    throw new ConfigError(`invalid trial job: ${field} must be ${expected}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail('the job data', 'an object');
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(v.id))
    fail('id', 'letters, digits, ".", "_" or "-" (at most 128)');
  if (typeof v.title !== 'string') fail('title', 'a string');
  checkRunSpec(v.run, 'trial job', 'run.');
  const problems = validateWith(validateJob, v.job, ['job']);
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : '';
    throw new ConfigError(
      `invalid trial job (a search trial's train job): ${problems[0]!.path.join('.')}: ${problems[0]!.message}${more}`,
    );
  }
  return v as unknown as TrialSpec;
}

interface Bench {
  key: string;
  wb: Workbench;
  components: Components;
}

/** Runs trials in this process, keeping up to `keep` idle workbenches for later trials of the same runs. */
export class TrialRunner {
  private idle: Bench[] = [];

  constructor(
    private readonly registry: Registry,
    private readonly keep = 1,
  ) {}

  async run(value: TrialSpec, log: Logger): Promise<TrialOutput> {
    const spec = checkTrialSpec(value);
    checkWorkerPlugins(spec.run, this.registry, `trial (${spec.title})`);
    const key = createHash('sha256').update(JSON.stringify(spec.run)).digest('hex');
    const at = this.idle.findIndex((b) => b.key === key);
    const bench = at >= 0 ? this.idle.splice(at, 1)[0]! : await this.open(key, spec, log);
    const events: RunEvent[] = [];
    let result: JobResult;
    try {
      result = await workbenchRunner(bench.wb)(spec.job, (e) => {
        if (e.type !== 'progress') events.push(e);
      });
    } catch (e) {
      await this.close(bench);
      throw e;
    }
    this.idle.push(bench);
    while (this.idle.length > this.keep) await this.close(this.idle.shift()!);
    return { result, events };
  }

  private async open(key: string, spec: TrialSpec, log: Logger): Promise<Bench> {
    const config = workerConfig(spec.run, this.registry, tmpdir());
    const components = await createComponents({
      command: 'search',
      config,
      registry: this.registry,
      reporters: [],
      log,
      baseDirFor: (path) => spec.run.baseDirs[String(path[0])] ?? tmpdir(),
    });
    try {
      const wb = new Workbench({
        backbone: components.backbone,
        task: components.task,
        backend: components.backend,
        types: components.types,
        seed: spec.run.seed,
        log,
        passMemory: passMemoryOf(config),
      });
      return { key, wb, components };
    } catch (e) {
      await components.backend.dispose();
      throw e;
    }
  }

  private async close(bench: Bench): Promise<void> {
    await bench.components.backend.dispose();
  }

  /** Release every kept workbench (the worker stops). */
  async dispose(): Promise<void> {
    for (const b of this.idle.splice(0)) await this.close(b);
  }
}
