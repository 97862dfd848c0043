/**
 * `peftkit bench train-step [--json] [--quick]`: the ONNX Runtime backend's train-step benchmark
 * (BERT-base-shaped encoder with rank-8 LoRA; ORT's own MatMul throughput measured in the same
 * process as the reference; forward and train-step times, FLOPs counted from the graph, peak RSS
 * of forward-only inference vs training). docs/benchmarks.md has measured results.
 */
import { execFile } from 'node:child_process';
import { loadPlugins, runSearchBench, type SearchBenchReport } from '@peftkit/engine';
import {
  BERT_BASE,
  BERT_LARGE,
  BenchBackbone,
  QUICK,
  makeFrozenWeights,
  runTrainStepBench,
  type TrainStepBenchOptions,
} from '@peftkit/plugin-onnxruntime';
import type { CommandModule } from 'yargs';
import { printJson, type CliContext, type GlobalArgs } from '../context.js';
import { withJsonOption, type JsonArgs } from '../options.js';

interface BenchArgs extends GlobalArgs, JsonArgs {
  quick: boolean;
  batch?: number;
  seq?: number;
  iterations?: number;
  threads?: number;
  memory: boolean;
  norm: 'post' | 'pre';
}

interface SearchArgs extends GlobalArgs, JsonArgs {
  size: 'base' | 'large' | 'quick';
  batch: number;
  seq: number;
  steps: number;
  part: 'search' | 'train-step';
}

/** `bench search --part train-step` in a fresh process, for the train step's own peak RSS. */
function trainStepChild(args: SearchArgs): Promise<SearchBenchReport> {
  const argv = [process.argv[1]!, 'bench', 'search', '--json', '--part', 'train-step'];
  argv.push(
    '--size',
    args.size,
    '--batch',
    String(args.batch),
    '--seq',
    String(args.seq),
    '--steps',
    String(args.steps),
  );
  return new Promise((resolve, reject) => {
    execFile(process.execPath, argv, { maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`bench search: the train-step child process failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as SearchBenchReport);
    });
  });
}

export function benchCommand(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  const trainStep: CommandModule<GlobalArgs, BenchArgs> = {
    command: 'train-step',
    describe: 'time forward and LoRA train steps of a BERT-base-shaped encoder against ORT MatMul throughput',
    builder: (y) =>
      withJsonOption(y)
        .option('quick', {
          type: 'boolean',
          default: false,
          describe: 'a small model (2 layers, hidden 128) for smoke runs',
        })
        .option('batch', { type: 'number', describe: 'sequences per step (default 8)' })
        .option('seq', { type: 'number', describe: 'tokens per sequence (default 128)' })
        .option('iterations', { type: 'number', describe: 'timed rounds (default 5)' })
        .option('threads', { type: 'number', describe: 'ONNX Runtime intra-op threads (default: CPU count)' })
        .option('memory', { type: 'boolean', default: true, describe: 'measure peak RSS in child processes' })
        .option('norm', {
          choices: ['post', 'pre'] as const,
          default: 'post' as const,
          describe: 'LayerNorm placement',
        })
        .example('$0 bench train-step --quick', 'a small model, for a smoke run')
        .example(
          '$0 bench train-step --batch 16 --seq 64 --json',
          'the BERT-base shape at another batch size',
        ) as never,
    handler: async (args) => {
      const options: TrainStepBenchOptions = {
        quick: args.quick,
        batch: args.batch,
        seq: args.seq,
        iterations: args.iterations,
        threads: args.threads,
        memory: args.memory,
        norm: args.norm,
        progress: (m: string) => ctx.io.err(`[bench] ${m}\n`),
      };
      const report = await runTrainStepBench(options);
      if (args.json) return printJson(ctx.io, report);
      ctx.io.out(`${JSON.stringify(report, null, 2)}\n`);
    },
  };
  const search: CommandModule<GlobalArgs, SearchArgs> = {
    command: 'search',
    describe:
      'a BIPEFT supernet search (S1) on the BERT-shaped random encoder: time per pass and peak RSS against the LoRA train step on the same batches',
    builder: (y) =>
      withJsonOption(y)
        .option('size', {
          choices: ['base', 'large', 'quick'] as const,
          default: 'base' as const,
          describe: 'BERT-base, BERT-large (24 x 1024) or a 2-layer smoke model',
        })
        .option('batch', { type: 'number', default: 8, describe: 'sequences per batch' })
        .option('seq', { type: 'number', default: 128, describe: 'tokens per sequence' })
        .option('steps', { type: 'number', default: 6, describe: 'weight steps of the first search epoch' })
        .option('part', {
          choices: ['search', 'train-step'] as const,
          default: 'search' as const,
          describe: 'train-step: only the train steps (the peak-RSS child process)',
        })
        .example('$0 bench search --size quick', 'a small model, for a smoke run')
        .example(
          '$0 bench search --json',
          'BERT-base shape: search steps against the LoRA train step',
        ) as never,
    handler: async (args) => {
      const cfg = args.size === 'large' ? BERT_LARGE : args.size === 'quick' ? QUICK : BERT_BASE;
      const say = (m: string) => ctx.io.err(`[bench] ${m}\n`);
      const run = async (part: 'search' | 'train-step'): Promise<SearchBenchReport> => {
        const { registry } = await loadPlugins({ cwd: ctx.cwd });
        say(`${args.size} model: ${cfg.layers} layers, hidden ${cfg.hidden}; random frozen weights`);
        const backbone = new BenchBackbone(cfg, makeFrozenWeights(cfg, 1234));
        return runSearchBench({
          registry,
          backbone,
          batch: args.batch,
          seq: args.seq,
          steps: args.steps,
          part,
          progress: say,
        });
      };
      let report: SearchBenchReport;
      if (args.part === 'train-step') report = await run('train-step');
      else {
        report = await run('search');
        say('peak RSS of the train step alone (child process)');
        const child = await trainStepChild(args);
        report = {
          ...report,
          trainStepProcess: { peakRssMiB: child.peakRssMiB, medianMs: child.trainStep.medianMs },
          ratios: {
            ...report.ratios!,
            searchPeakRssOverTrainStep: Math.round((1000 * report.peakRssMiB) / child.peakRssMiB) / 1000,
          },
        };
      }
      if (args.json) return printJson(ctx.io, report);
      ctx.io.out(`${JSON.stringify(report, null, 2)}\n`);
    },
  };
  return {
    command: 'bench',
    describe: 'benchmarks (train-step, search)',
    builder: (y) =>
      y
        .command(trainStep as never)
        .command(search as never)
        .demandCommand(1, 'choose a benchmark: train-step, search')
        .example('$0 bench train-step --quick', 'time train steps of a small model')
        .example('$0 bench search --size quick', 'time a BIPEFT supernet search on a small model'),
    handler: () => {},
  };
}
