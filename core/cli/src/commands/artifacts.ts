/** `peftkit eval RUN_DIR` and `peftkit export RUN_DIR`: use a finished run's trained model. */
import type { DataSplit } from '@peftkit/api';
import { displayPath, evaluateRun, exportRun } from '@peftkit/engine';
import type { CommandModule } from 'yargs';
import { printJson, type CliContext, type GlobalArgs } from '../context.js';
import { withJsonOption, type JsonArgs } from '../options.js';

interface EvalArgs extends GlobalArgs, JsonArgs {
  run: string;
  split: string[];
}

export function evalCommand(ctx: CliContext): CommandModule<GlobalArgs, EvalArgs> {
  return {
    command: 'eval <run>',
    describe: "score a finished run's trained model on splits of its task",
    builder: (y) =>
      withJsonOption(y)
        .positional('run', { type: 'string', demandOption: true, describe: 'run directory' })
        .option('split', {
          type: 'string',
          array: true,
          choices: ['train', 'validation', 'test'],
          default: ['validation', 'test'],
          describe: 'splits to score',
        })
        .example('$0 eval runs/quickstart-1', 'validation and test metrics of a finished run')
        .example('$0 eval runs/quickstart-1 --split test --json', 'the test split only, as JSON') as never,
    handler: async (args) => {
      const r = await evaluateRun({ runDir: args.run, splits: args.split as DataSplit[], cwd: ctx.cwd });
      if (args.json) return printJson(ctx.io, r);
      for (const [split, m] of Object.entries(r.metrics)) {
        ctx.io.out(
          `${split}: ${Object.entries(m!)
            .map(([k, v]) => `${k} ${(v as number).toFixed(4)}`)
            .join(', ')}\n`,
        );
      }
    },
  };
}

interface ExportArgs extends GlobalArgs, JsonArgs {
  run: string;
  format: 'peftkit' | 'onnx';
  out?: string;
}

export function exportCommand(ctx: CliContext): CommandModule<GlobalArgs, ExportArgs> {
  return {
    command: 'export <run>',
    describe:
      'write the found configuration and trained weights (peftkit manifest + safetensors, a PEFT adapter for LoRA-only results, or a standalone ONNX model)',
    builder: (y) =>
      withJsonOption(y)
        .positional('run', { type: 'string', demandOption: true, describe: 'run directory' })
        .option('format', {
          choices: ['peftkit', 'onnx'] as const,
          default: 'peftkit' as const,
          describe: 'what to write',
        })
        .option('out', { type: 'string', describe: 'output directory (default: <run>/export)' })
        .example(
          '$0 export runs/quickstart-1',
          'manifest + safetensors (and a PEFT adapter for LoRA-only results)',
        )
        .example(
          '$0 export runs/quickstart-1 --format onnx --out model/',
          'a standalone ONNX inference model',
        ) as never,
    handler: async (args) => {
      const r = await exportRun({ runDir: args.run, format: args.format, out: args.out, cwd: ctx.cwd });
      if (args.json) return printJson(ctx.io, r);
      ctx.io.out(
        `exported to ${displayPath(r.dir, ctx.cwd)}:\n${r.files.map((f) => `  ${displayPath(f, ctx.cwd)}\n`).join('')}`,
      );
    },
  };
}
