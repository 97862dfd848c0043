/**
 * `peftkit eval RUN_DIR`, `peftkit predict RUN_DIR` and `peftkit export RUN_DIR`: use a finished
 * run's trained model.
 */
import type { DataSplit } from '@peftkit/api';
import { displayPath, evaluateAdapter, evaluateRun, exportRun, predictRun, toJsonl } from '@peftkit/engine';
import type { CommandModule } from 'yargs';
import { printJson, type CliContext, type GlobalArgs } from '../context.js';
import { UsageError } from '../errors.js';
import { type ConfigArgs, withConfigOptions, withJsonOption, type JsonArgs } from '../options.js';

interface EvalArgs extends GlobalArgs, JsonArgs, ConfigArgs {
  run?: string;
  split: string[];
  predictions?: string;
  adapter?: string;
}

export function evalCommand(ctx: CliContext): CommandModule<GlobalArgs, EvalArgs> {
  return {
    command: 'eval [run]',
    describe:
      "score a finished run's trained model on splits of its task, or a PEFT LoRA adapter (--adapter DIR --preset P)",
    builder: (y) =>
      withConfigOptions(withJsonOption(y))
        .positional('run', { type: 'string', describe: 'run directory' })
        .option('adapter', {
          type: 'string',
          describe:
            "a Hugging Face PEFT LoRA adapter directory to score instead of a run, on the --preset's backbone (the adapter's base model) and task",
        })
        .option('split', {
          type: 'string',
          array: true,
          choices: ['train', 'validation', 'test'],
          default: ['validation', 'test'],
          describe: 'splits to score',
        })
        .option('predictions', {
          type: 'string',
          describe:
            "also write every example's prediction to this JSONL file (split, text, label, probabilities, logits, gold)",
        })
        .example('$0 eval runs/quickstart-1', 'validation and test metrics of a finished run')
        .example('$0 eval runs/quickstart-1 --split test --json', 'the test split only, as JSON')
        .example('$0 eval runs/quickstart-1 --predictions preds.jsonl', "also every example's prediction")
        .example(
          '$0 eval --adapter my-lora --preset my-hf-preset',
          'score a PEFT LoRA adapter made elsewhere',
        ) as never,
    handler: async (args) => {
      if (args.adapter ? args.run !== undefined : args.preset !== undefined || args.set.length > 0)
        throw new UsageError(
          args.adapter
            ? '--adapter scores an adapter on the --preset backbone and task; do not also name a run directory'
            : 'a run is scored with its own configuration; --preset and --set go with --adapter',
        );
      if (!args.adapter && args.run === undefined)
        throw new UsageError('name a run directory, or an adapter with --adapter DIR --preset P');
      const common = { splits: args.split as DataSplit[], predictions: args.predictions, cwd: ctx.cwd };
      const r = args.adapter
        ? await evaluateAdapter({ adapter: args.adapter, preset: args.preset, sets: args.set, ...common })
        : await evaluateRun({ runDir: args.run!, ...common });
      if (args.json) return printJson(ctx.io, r);
      if (r.predictions) ctx.io.out(`predictions: ${displayPath(r.predictions, ctx.cwd)}\n`);
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

interface PredictArgs extends GlobalArgs {
  run: string;
  input: string;
  output?: string;
}

export function predictCommand(ctx: CliContext): CommandModule<GlobalArgs, PredictArgs> {
  return {
    command: 'predict <run>',
    describe: "predict texts with a finished run's trained model (JSONL: text, label, probabilities, logits)",
    builder: (y) =>
      y
        .positional('run', { type: 'string', demandOption: true, describe: 'run directory' })
        .option('input', {
          type: 'string',
          demandOption: true,
          describe:
            'texts: a .jsonl file ({"text", "pair"?, "label"?} per line) or a TSV file with a header (text, pair?, label?)',
        })
        .option('output', {
          type: 'string',
          describe: 'JSONL file to write (default: standard output)',
        })
        .example(
          '$0 predict runs/quickstart-1 --input texts.tsv',
          'one JSON line per text on standard output',
        )
        .example(
          '$0 predict runs/quickstart-1 --input texts.jsonl --output predictions.jsonl',
          'into a file',
        ) as never,
    handler: async (args) => {
      const r = await predictRun({ runDir: args.run, input: args.input, output: args.output, cwd: ctx.cwd });
      if (r.output) ctx.io.out(`${r.count} predictions: ${displayPath(r.output, ctx.cwd)}\n`);
      else ctx.io.out(toJsonl(r.predictions));
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
        `exported to ${displayPath(r.dir, ctx.cwd)}:\n${r.files.map((f) => `  ${displayPath(f, ctx.cwd)}\n`).join('')}` +
          (r.notes ?? []).map((n) => `${n}\n`).join(''),
      );
    },
  };
}
