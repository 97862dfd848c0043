/**
 * `peftkit bench train-step [--json] [--quick]`: the ONNX Runtime backend's train-step benchmark
 * (BERT-base-shaped encoder with rank-8 LoRA; ORT's own MatMul throughput measured in the same
 * process as the reference; forward and train-step times, FLOPs counted from the graph, peak RSS
 * of forward-only inference vs training). docs/benchmarks.md has measured results.
 */
import { runTrainStepBench, type TrainStepBenchOptions } from '@peftkit/plugin-onnxruntime';
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
        }) as never,
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
  return {
    command: 'bench',
    describe: 'benchmarks (train-step)',
    builder: (y) => y.command(trainStep as never).demandCommand(1, 'choose a benchmark: train-step'),
    handler: () => {},
  };
}
