/**
 * `peftkit export RUN_DIR`: the found configuration and its trained weights, for use outside
 * peftkit.
 *
 * - `peftkit` format (default): manifest.json (backbone, task, modules with ranks and options,
 *   tensor names and shapes) + adapter.safetensors (module parameters and the task head). When the
 *   backbone is a Hugging Face checkpoint with its transformers head and PEFT has the run's module
 *   types, also a PEFT adapter in peft/ that AutoPeftModelForSequenceClassification loads
 *   (peft-adapter.ts); otherwise the notes say why not.
 * - `onnx` format: model.onnx, a standalone inference model (LoRA, BitFit and LNFit merged into the
 *   frozen weights, other modules inlined, the task head included) that runs in onnxruntime-node or
 *   onnxruntime-web without peftkit, with int64 inputs named as optimum names them (input_ids,
 *   attention_mask, token_type_ids for pairs), and model.json describing its inputs, outputs and
 *   labels; for Hugging Face backbones also config.json (id2label) and the checkpoint's tokenizer
 *   files, so a transformers tokenizer can feed it.
 */
import type { Architecture, Backbone, ModuleTypes, Task, TaskHead } from '@peftkit/api';
import {
  ConfigError,
  DataError,
  HF_TOKENIZER_FILES,
  decodeSafetensors,
  encodeSafetensors,
  moduleId,
} from '@peftkit/api';
import { serialize } from '@peftkit/graph';
import { buildProgram, PeftToolkit } from '@peftkit/nn';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { makeDirs } from '../util/fs.js';
import { join, resolve } from 'node:path';
import { loadResolvedConfig } from '../config/load.js';
import type { RunResult } from '../report/result.js';
import { RunDir } from '../run/rundir.js';
import { displayPath, engineVersion } from '../util/paths.js';
import { Workbench } from '@peftkit/runtime';
import { moduleTypesOf } from './run.js';
import { writePeftAdapter } from './peft-adapter.js';

export interface ExportOptions {
  runDir: string;
  out?: string;
  format: 'peftkit' | 'onnx';
  cwd?: string;
}

export interface ExportedRun {
  dir: string;
  files: string[];
  /** What the export holds and what it could not (printed by the CLI). */
  notes?: string[];
}

export interface LoadedRun {
  dir: RunDir;
  result: RunResult;
  architecture: Architecture;
  params: Record<string, Float32Array>;
  backbone: Backbone;
  task: Task;
  types: ModuleTypes;
}

/** A finished run with its components re-created from its configuration. */
export async function loadFinishedRun(path: string, cwd = process.cwd()): Promise<LoadedRun> {
  const dir = RunDir.open(path);
  const result = dir.readResult<RunResult>();
  if (!result)
    throw new DataError('the run has not finished (no result.json): resume it first with --resume', dir.path);
  const archFile = dir.file('architecture.json');
  const modelFile = dir.file('model.safetensors');
  if (!existsSync(modelFile))
    throw new DataError('the run saved no trained weights (model.safetensors is missing)', dir.path);
  let architecture: Architecture;
  try {
    architecture = JSON.parse(readFileSync(archFile, 'utf8')) as Architecture;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new DataError(`cannot read the run's architecture: ${why} (expected {"modules": [...]})`, archFile);
  }
  const tensors = decodeSafetensors(readFileSync(modelFile), modelFile);
  const params: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(tensors.tensors)) params[name] = t.data as Float32Array;
  const { config, registry } = await loadResolvedConfig(dir.file('config.json'), { cwd });
  const log = { info() {}, warn() {}, debug() {} };
  // Relative data and model paths resolve where the run resolved them (run.json records it).
  const ctxFor = (field: string) => registry.context({ baseDir: dir.info.baseDirs?.[field] ?? cwd, log });
  const backbone = await registry.create('backbone', config.backbone, ctxFor('backbone'));
  const task = await registry.create('task', config.task, ctxFor('task'));
  const types = await moduleTypesOf(registry, ctxFor('backbone'));
  return { dir, result, architecture, params, backbone, task, types };
}

function write(out: string, name: string, data: string | Uint8Array, files: string[]): void {
  const file = join(out, name);
  writeFileSync(file, data);
  files.push(file);
}

export async function exportRun(opts: ExportOptions): Promise<ExportedRun> {
  const run = await loadFinishedRun(resolve(opts.cwd ?? process.cwd(), opts.runDir), opts.cwd);
  const out = resolve(opts.cwd ?? process.cwd(), opts.out ?? join(run.dir.path, 'export'));
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new ConfigError(
      `${displayPath(out, opts.cwd)} is an existing file; expected a directory (new, or one to write into)`,
      undefined,
      '--out',
    );
  makeDirs(out);
  const files: string[] = [];
  const toolkit = new PeftToolkit(run.backbone, run.task.info, run.types);
  const config = run.dir.readConfig<Record<string, unknown>>();
  if (opts.format === 'onnx') {
    const spec = Workbench.specOf(run.architecture);
    const { graph, layout } = buildProgram(
      { backbone: run.backbone, task: run.task.info, types: run.types },
      spec,
      'eval',
      { inlineParams: run.params, merge: true, int64Masks: true },
    );
    // Standard ONNX ops only (no ONNX Runtime contrib ops), so the model also runs in onnxruntime-web.
    const model = serialize(graph, { inlineAll: true, standardOps: true });
    write(out, 'model.onnx', model.model, files);
    const inputs = [
      {
        name: 'input_ids',
        type: 'int64',
        shape: ['batch', 'tokens'],
        description: 'token ids from the backbone tokenizer, padded',
      },
      {
        name: 'attention_mask',
        type: 'int64',
        shape: ['batch', 'tokens'],
        description: '1 for tokens, 0 for padding',
      },
      ...(layout.pairInputs === 'joint'
        ? [{ name: 'token_type_ids', type: 'int64', shape: ['batch', 'tokens'], description: 'segment ids' }]
        : []),
      ...(layout.pairInputs === 'separate'
        ? [
            {
              name: 'input_ids_b',
              type: 'int64',
              shape: ['batch', 'tokens'],
              description: 'second text of the pair',
            },
            {
              name: 'attention_mask_b',
              type: 'int64',
              shape: ['batch', 'tokens'],
              description: 'its mask',
            },
          ]
        : []),
    ];
    write(
      out,
      'model.json',
      `${JSON.stringify(
        {
          format: 'peftkit-onnx',
          peftkit: engineVersion(),
          // The backbone as configured, and where it was loaded from (a relative path in the preset
          // does not resolve from the export directory).
          backbone: { ...(config.backbone as object), source: run.backbone.externalSource ?? null },
          task: {
            name: run.task.info.name,
            type: run.task.info.type,
            labels: run.task.info.labelNames ?? null,
          },
          inputs,
          outputs: [
            {
              name: 'logits',
              shape: run.task.info.type === 'regression' ? ['batch'] : ['batch', run.task.info.numClasses],
            },
          ],
          tokenizer: `use the ${run.backbone.info.name} backbone's tokenizer (max ${run.backbone.info.maxLength} tokens)`,
          architecture: run.architecture,
          metrics: run.result.metrics,
        },
        null,
        2,
      )}\n`,
      files,
    );
    const notes = writeTransformersFiles(run, toolkit.head(), out, files);
    return { dir: out, files, notes };
  }

  // peftkit format.
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  const modules = run.architecture.modules.map((m) => {
    const specs = toolkit.specs(m.type, m.point, m.rank, m.options ?? {});
    for (const s of specs) tensors[s.name] = { dtype: 'F32', shape: [...s.shape], data: run.params[s.name]! };
    return {
      id: moduleId(m.type, m.point),
      type: m.type,
      point: m.point,
      rank: m.rank,
      options: m.options ?? {},
      tensors: specs.map((s) => ({ name: s.name, shape: s.shape })),
    };
  });
  const head = toolkit.head();
  for (const s of toolkit.headSpecs())
    tensors[s.name] = { dtype: 'F32', shape: [...s.shape], data: run.params[s.name]! };
  for (const [k, t] of Object.entries(tensors)) {
    if (!t.data) throw new DataError(`model.safetensors lacks ${k}`, run.dir.file('model.safetensors'));
  }
  write(out, 'adapter.safetensors', encodeSafetensors(tensors as never, { format: 'peftkit' }), files);
  write(
    out,
    'manifest.json',
    `${JSON.stringify(
      {
        format: 'peftkit-adapter',
        peftkit: engineVersion(),
        backbone: { ...(config.backbone as object), params: run.backbone.info.params },
        task: {
          name: run.task.info.name,
          type: run.task.info.type,
          numClasses: run.task.info.numClasses,
          labels: run.task.info.labelNames ?? null,
          pair: run.task.info.pair,
        },
        head: {
          description: head.description,
          tensors: Object.fromEntries(toolkit.headSpecs().map((s) => [s.name, s.shape])),
          input:
            run.task.info.pair && run.backbone.info.pairEncoding === 'separate'
              ? '[u, v, |u-v|, u*v]'
              : 'pooled',
        },
        layout: 'linear weights are [in, out]; LoRA A is [in, r] and B is [r, out]',
        trainableParams: run.result.trainableParams,
        modules,
        metrics: run.result.metrics,
      },
      null,
      2,
    )}\n`,
    files,
  );
  const peft = writePeftAdapter(run, join(out, 'peft'));
  if ('skipped' in peft) return { dir: out, files, notes: [`no PEFT adapter (peft/): ${peft.skipped}`] };
  files.push(...peft.files);
  return { dir: out, files, notes: [`peft/ is a PEFT ${peft.peftType} adapter (task_type SEQ_CLS)`] };
}

/**
 * Beside model.onnx, what transformers-based tools read from a model directory: config.json (the
 * checkpoint's, as the task model with id2label / label2id) and the checkpoint's tokenizer files,
 * so the directory runs with a Hugging Face tokenizer feeding onnxruntime (or transformers.js).
 */
function writeTransformersFiles(run: LoadedRun, head: TaskHead, out: string, files: string[]): string[] {
  const source = run.backbone.externalDir ?? run.backbone.externalSource;
  if (!source || !existsSync(join(source, 'config.json')))
    return ['no config.json / tokenizer files: the backbone is not a Hugging Face checkpoint'];
  const cfg = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as Record<string, unknown>;
  const info = run.task.info;
  const names = Array.from({ length: info.type === 'regression' ? 1 : info.numClasses }, (_, i) =>
    String(info.labelNames?.[i] ?? `LABEL_${i}`),
  );
  write(
    out,
    'config.json',
    `${JSON.stringify(
      {
        ...cfg,
        architectures: head.externalClass ? [head.externalClass] : cfg.architectures,
        id2label: Object.fromEntries(names.map((n, i) => [String(i), n])),
        label2id: Object.fromEntries(names.map((n, i) => [n, i])),
        problem_type: info.type === 'regression' ? 'regression' : 'single_label_classification',
      },
      null,
      2,
    )}\n`,
    files,
  );
  for (const f of HF_TOKENIZER_FILES) {
    if (!existsSync(join(source, f))) continue;
    if (f === 'tokenizer_config.json') {
      // Truncate where peftkit did: tokenizers that read this directory (transformers, transformers.js
      // pipelines) truncate at model_max_length, and the predictions are peftkit's only with the same cut.
      const tc = JSON.parse(readFileSync(join(source, f), 'utf8')) as Record<string, unknown>;
      write(
        out,
        f,
        `${JSON.stringify({ ...tc, model_max_length: run.backbone.info.maxLength }, null, 2)}\n`,
        files,
      );
      continue;
    }
    copyFileSync(join(source, f), join(out, f));
    files.push(join(out, f));
  }
  return head.externalClass
    ? []
    : [
        `config.json names the checkpoint's own classes: peftkit's linear head is no ${cfg.model_type} task head`,
      ];
}
