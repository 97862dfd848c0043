/**
 * `peftkit search` and `peftkit train`: run a preset (one run per seed), or continue an interrupted
 * run with `--resume DIR`. `train` trains a fixed architecture (the preset's `architecture`, or
 * `--architecture FILE`, e.g. the architecture.json another run found: transfer across tasks).
 */
import type { Reporter } from '@peftkit/api';
import {
  type FinishedRun,
  type LoadedConfig,
  baseDirOf,
  displayPath,
  executeRuns,
  formatOrigin,
  loadConfig,
  loadResolvedConfig,
  RunDir,
} from '@peftkit/engine';
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { printJson, stderrLogger, type CliContext, type GlobalArgs } from '../context.js';
import { UsageError } from '../errors.js';
import {
  withCheckpointOption,
  withConfigOptions,
  withJsonOption,
  withReporterOption,
  type ConfigArgs,
  type JsonArgs,
  type ReporterArgs,
} from '../options.js';

interface RunArgs extends GlobalArgs, ConfigArgs, JsonArgs, ReporterArgs {
  resume?: string;
  architecture?: string;
  initAdapter?: string;
  checkpointEvery: number;
}

function runBuilder<T>(y: Argv<T>, train: boolean): Argv<T & RunArgs> {
  let b = withReporterOption(withJsonOption(withConfigOptions(y))).option('resume', {
    type: 'string',
    describe: 'continue the interrupted run in this run directory from its last checkpoint',
  });
  b = withCheckpointOption(b, 'seconds between checkpoints (0: after every step)');
  if (train) {
    b = b.option('architecture', {
      type: 'string',
      describe:
        'JSON file with the architecture to train ({"modules": [...]}, e.g. a run\'s architecture.json)',
    });
    b = b.option('init-adapter', {
      type: 'string',
      describe:
        "a Hugging Face PEFT LoRA adapter directory made for the preset's backbone: train its modules, starting from its weights (and head)",
    });
  }
  return b as unknown as Argv<T & RunArgs>;
}

async function handle(ctx: CliContext, args: RunArgs, command: 'search' | 'train'): Promise<void> {
  const log = stderrLogger(ctx.io, args.debug);
  let loaded: LoadedConfig;
  let preset: string | null = args.preset ?? null;
  let architectureOrigin: string | undefined;
  if (args.resume) {
    // Memory settings change how a step is cut into passes, not what it computes, so a run refused
    // for memory (a program that would not fit) continues with new ones instead of starting over.
    const notMemory = args.set.filter((s) => !/^memory(\.|=)/.test(s));
    if (args.preset || notMemory.length || args.architecture || args.initAdapter)
      throw new UsageError(
        `--resume continues a run with its own configuration; do not pass --preset, --architecture, --init-adapter or --set other than memory settings (--set memory.passMiB=N, --set memory.limitMiB=N)${notMemory.length ? `; got --set ${notMemory.join(' --set ')}` : ''}`,
      );
    const dir = RunDir.open(resolve(ctx.cwd, args.resume));
    loaded = await loadResolvedConfig(dir.file('config.json'), { cwd: ctx.cwd, sets: args.set });
    if (args.set.length)
      log.info(`resuming with ${args.set.join(', ')} (config.json keeps the settings the run started with)`);
    preset = null;
  } else {
    const sets = [...args.set];
    if (args.architecture) sets.push(`architecture=${JSON.stringify(resolve(ctx.cwd, args.architecture))}`);
    if (args.initAdapter) sets.push(`initAdapter=${JSON.stringify(resolve(ctx.cwd, args.initAdapter))}`);
    loaded = await loadConfig({ preset: args.preset, sets, cwd: ctx.cwd });
    const written = loaded.origins.get(['architecture']);
    architectureOrigin = args.architecture
      ? displayPath(resolve(ctx.cwd, args.architecture), ctx.cwd)
      : written && formatOrigin(written);
  }
  const { config, registry, origins } = loaded;
  const rctx = registry.context({ baseDir: ctx.cwd, log });
  const reporter: Reporter = await registry.create(
    'reporter',
    { name: args.json && args.reporter === 'jsonl' ? 'quiet' : args.reporter },
    rctx,
  );
  let finished: FinishedRun[];
  try {
    finished = await executeRuns({
      command,
      config,
      registry,
      preset,
      reporters: [reporter],
      log,
      checkpointSeconds: args.checkpointEvery,
      baseDirFor: (path) => baseDirOf(origins, path, ctx.cwd),
      architectureOrigin,
      origins,
      resume: args.resume ? resolve(ctx.cwd, args.resume) : undefined,
    });
  } finally {
    await reporter.close?.();
  }
  if (args.json) {
    printJson(
      ctx.io,
      finished.map((f) => ({ dir: f.dir, ...f.result })),
    );
    return;
  }
  for (const f of finished) {
    const r = f.result;
    const fmt = (m: Record<string, number | undefined>) =>
      Object.entries(m)
        .filter(([k]) => k !== 'loss')
        .map(([k, v]) => `${k} ${(v ?? NaN).toFixed(4)}`)
        .join(', ');
    ctx.io.out(
      [
        `run ${displayPath(f.dir, ctx.cwd)}`,
        `  ${r.strategy} on ${r.task.name} (${r.backbone.name}), seed ${r.seed}`,
        `  trainable parameters ${r.trainableParams.toLocaleString('en-US')}${r.budget ? ` (budget ${r.budget.params.toLocaleString('en-US')})` : ''} + head ${r.headParams.toLocaleString('en-US')}`,
        `  modules: ${r.architecture.modules.map((m) => (m.rank === null ? m.id : `${m.id}:${m.rank}`)).join(' ') || '(none: frozen encoder + head)'}`,
        `  validation: ${fmt(r.metrics.validation)}`,
        `  test:       ${fmt(r.metrics.test)}`,
        `  time: search ${r.timings.searchSeconds.toFixed(1)} s, re-training ${r.timings.retrainSeconds.toFixed(1)} s, total ${r.timings.totalSeconds.toFixed(1)} s; peak RSS ${r.peakRssMB.toFixed(0)} MB`,
        `  report: ${displayPath(resolve(f.dir, 'report.html'), ctx.cwd)}`,
        '',
      ].join('\n'),
    );
  }
}

export function searchCommand(ctx: CliContext): CommandModule<GlobalArgs, RunArgs> {
  return {
    command: 'search',
    describe: 'search a PEFT configuration under a budget and re-train it (one run per seed)',
    builder: (y) =>
      runBuilder(y, false)
        .example('$0 search --preset quickstart', "the README's quickstart: BIPEFT on USE-lite + sentiment")
        .example(
          '$0 search -p quickstart --set budget.ratio=0.005 --set seeds=[1,2]',
          'change fields of a preset',
        )
        .example(
          '$0 search -p ./my-preset.yaml --reporter jsonl',
          'a preset file; events as JSON lines on stdout',
        )
        .example(
          '$0 search --resume runs/quickstart-1',
          'continue an interrupted run from its last checkpoint',
        ),
    handler: (args) => handle(ctx, args, 'search'),
  };
}

export function trainCommand(ctx: CliContext): CommandModule<GlobalArgs, RunArgs> {
  return {
    command: 'train',
    describe: 'train a fixed PEFT configuration (preset architecture or --architecture FILE)',
    builder: (y) =>
      runBuilder(y, true)
        .example('$0 train --preset train-lora-sentiment', 'train a manual LoRA configuration')
        .example(
          '$0 train -p train-lora-sentiment --architecture runs/quickstart-1/architecture.json',
          'train the architecture another run found (transfer)',
        )
        .example(
          '$0 train -p train-lora-sentiment --set recipes.retrain.epochs=1 --json',
          'one epoch, result as JSON',
        ),
    handler: (args) => handle(ctx, args, 'train'),
  };
}
