/**
 * A trained run as a Hugging Face PEFT adapter directory (adapter_config.json +
 * adapter_model.safetensors) that `AutoPeftModelForSequenceClassification.from_pretrained(dir)`
 * loads onto the backbone's checkpoint with no missing or unexpected keys.
 *
 * - Tensor names are the task model's module paths (`base_model.model.bert.encoder.layer.0.
 *   attention.self.query.lora_A.weight`), with the encoder's prefix inside the task model.
 * - LoRA modules become PEFT LoRA layers: lora_A [r, in], lora_B [out, r] (peftkit stores A [in, r]
 *   and B [r, out]), with rank_pattern / alpha_pattern for the modules off the most common rank.
 * - AdaLoRA modules become PEFT AdaLoRA layers (ADALORA): lora_A [r, in], lora_E [r, 1], lora_B
 *   [out, r], each module's rank in rank_pattern; PEFT scales by lora_alpha / (r + 1e-5), which is
 *   folded into lora_E with the module's own scale, so the update is exactly peftkit's.
 * - Modules that fold into a frozen tensor (LNFit, BitFit, full fine-tuning) are written as whole
 *   modules in modules_to_save, their weights merged, which PEFT restores exactly; an adapter of
 *   LNFit alone is PEFT's LN tuning (LN_TUNING, `ln_tuning_layers`).
 * - The task head is in modules_to_save under the transformers names (`classifier.dense.weight`,
 *   [out, in]); task_type SEQ_CLS.
 *
 * Other module types (adapters, prefixes) have no PEFT counterpart here: the adapter is not
 * written and the reason is returned; peftkit's own format and the ONNX export still carry them.
 */
import type { Backbone, ModuleTypes, TaskHead, WeightRole } from '@peftkit/api';
import { encodeSafetensors, moduleId } from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import { PeftToolkit } from '@peftkit/nn';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedRun } from './export.js';

type Tensors = Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>;

export type PeftExport = { files: string[]; peftType: string } | { skipped: string };

/** Module types that fold into their point's frozen tensors and are exported as modules_to_save. */
const MERGED_TYPES = new Set(['lnfit', 'bitfit', 'full']);

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/**
 * The frozen tensors of `point` with every mergeable module of the run folded in, as the framework
 * stores them: `<module>.weight` ([out, in] for linear weights) and `<module>.bias`.
 */
function mergedModule(
  run: LoadedRun,
  types: ModuleTypes,
  point: string,
  name: string,
  tensors: Tensors,
): void {
  const p = run.backbone.info.points.find((x) => x.name === point)!;
  for (const [role, frozen] of Object.entries(run.backbone.pretrained(point)) as [WeightRole, TensorData][]) {
    let data: TensorData = frozen;
    for (const m of run.architecture.modules.filter((x) => x.point === point)) {
      const type = types.get(m.type);
      const id = moduleId(m.type, m.point);
      const local: Record<string, Float32Array> = {};
      for (const s of type.params(p, m.rank, m.options ?? {})) local[s.name] = run.params[`${id}/${s.name}`]!;
      data = type.merge?.(p, m.rank, m.options ?? {}, local, role, data) ?? data;
    }
    const values = data.data as Float32Array;
    const suffix = role === 'bias' || role === 'shift' ? 'bias' : 'weight';
    if (role === 'weight' && p.kind === 'linear') {
      const [i, o] = data.shape as [number, number];
      tensors[`${name}.${suffix}`] = { dtype: 'F32', shape: [o, i], data: transpose(values, i, o) };
    } else {
      tensors[`${name}.${suffix}`] = { dtype: 'F32', shape: [...data.shape], data: values };
    }
  }
}

function headTensors(run: LoadedRun, head: TaskHead, tensors: Tensors): void {
  for (const p of head.params) {
    const { name, transpose: t } = head.externalName(p.name);
    const data = run.params[`head/${p.name}`]!;
    tensors[name] = t
      ? { dtype: 'F32', shape: [p.shape[1]!, p.shape[0]!], data: transpose(data, p.shape[0]!, p.shape[1]!) }
      : { dtype: 'F32', shape: [...p.shape], data };
  }
}

/** Why the run cannot be a PEFT adapter, or undefined when it can. */
function unsupported(run: LoadedRun, backbone: Backbone, head: TaskHead): string | undefined {
  if (!backbone.externalName || !backbone.externalSource)
    return `the ${backbone.info.name} backbone has no Hugging Face transformers counterpart`;
  if (head.encoderModule === undefined)
    return (
      "the task head is peftkit's linear head, which no transformers model has; train with the " +
      "backbone's transformers head (backbone option head: hf, the default) to export a PEFT adapter"
    );
  const lowRankTypes = new Set(
    run.architecture.modules.map((m) => m.type).filter((t) => !MERGED_TYPES.has(t)),
  );
  if (lowRankTypes.size > 1)
    return `one PEFT adapter holds one method; this run has ${[...lowRankTypes].join(' and ')}`;
  const other = [...lowRankTypes].filter(
    (t) => t !== 'lora' && !(t === 'adalora' && run.types.get(t).lowRank),
  );
  if (other.length > 0)
    return `PEFT has no counterpart of the module type${other.length > 1 ? 's' : ''} ${other.join(', ')} here`;
  if (run.architecture.modules.length === 0)
    return 'the run trained the head only: a PEFT adapter needs at least one module';
  if (lowRankTypes.size === 0 && !run.architecture.modules.every((m) => m.type === 'lnfit'))
    return 'PEFT has no method for BitFit or full fine-tuning alone (beside LoRA they go in modules_to_save)';
  const points = new Map<string, Set<string>>();
  for (const m of run.architecture.modules)
    points.set(m.point, (points.get(m.point) ?? new Set()).add(m.type));
  for (const [point, ts] of points) {
    const lowRank = [...ts].find((t) => !MERGED_TYPES.has(t));
    if (lowRank && ts.size > 1)
      return `${point} has ${lowRank} together with ${[...ts].filter((t) => t !== lowRank).join(', ')}, which one PEFT adapter cannot hold`;
  }
  return undefined;
}

export function writePeftAdapter(run: LoadedRun, out: string): PeftExport {
  const toolkit = new PeftToolkit(run.backbone, run.task.info, run.types);
  const head = toolkit.head();
  const why = unsupported(run, run.backbone, head);
  if (why) return { skipped: why };
  const prefix = `base_model.model.`;
  const inModel = (point: string) => `${head.encoderModule}.${run.backbone.externalName!(point)!}`;
  const lora = run.architecture.modules.filter((m) => m.type === 'lora');
  const adalora = run.architecture.modules.filter((m) => m.type === 'adalora');
  const mergedPoints = [
    ...new Set(run.architecture.modules.filter((m) => MERGED_TYPES.has(m.type)).map((m) => m.point)),
  ];
  const lnTuning =
    lora.length === 0 &&
    adalora.length === 0 &&
    run.architecture.modules.every((m) => m.type === 'lnfit') &&
    mergedPoints.length > 0;

  const tensors: Tensors = {};
  const headOut: Tensors = {};
  headTensors(run, head, headOut);
  for (const [k, v] of Object.entries(headOut)) tensors[prefix + k] = v;
  for (const point of mergedPoints) {
    const own: Tensors = {};
    mergedModule(run, run.types, point, inModel(point), own);
    for (const [k, v] of Object.entries(own)) {
      // LN tuning keeps the tuned copy in `ln_tuning_layers`; modules_to_save under the module's name.
      const key = lnTuning ? k.replace(/\.(weight|bias)$/, '.ln_tuning_layers.$1') : k;
      tensors[prefix + key] = v;
    }
  }

  const counts = new Map<number, number>();
  for (const m of lora) counts.set(m.rank!, (counts.get(m.rank!) ?? 0) + 1);
  const r0 = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 8;
  const rankPattern: Record<string, number> = {};
  const alphaPattern: Record<string, number> = {};
  for (const m of lora) {
    const id = moduleId(m.type, m.point);
    const p = run.backbone.info.points.find((x) => x.name === m.point)!;
    const r = m.rank!;
    const alpha = typeof m.options?.alpha === 'number' ? m.options.alpha : r;
    const n = inModel(m.point);
    if (r !== r0) rankPattern[n] = r;
    if (alpha !== r0) alphaPattern[n] = alpha;
    const inF = p.inFeatures!;
    const outF = p.outFeatures!;
    tensors[`${prefix}${n}.lora_A.weight`] = {
      dtype: 'F32',
      shape: [r, inF],
      data: transpose(run.params[`${id}/A`]!, inF, r),
    };
    tensors[`${prefix}${n}.lora_B.weight`] = {
      dtype: 'F32',
      shape: [outF, r],
      data: transpose(run.params[`${id}/B`]!, r, outF),
    };
  }

  // AdaLoRA: peft computes ((x·A^T) ⊙ E)·B^T · lora_alpha / (ranknum + 1e-5), ranknum = the module's rank.
  const adaloraRankPattern: Record<string, boolean[]> = {};
  const initR = Math.max(0, ...adalora.map((m) => m.rank!));
  for (const m of adalora) {
    const id = moduleId(m.type, m.point);
    const p = run.backbone.info.points.find((x) => x.name === m.point)!;
    const type = run.types.get(m.type);
    const local: Record<string, Float32Array> = {};
    for (const s of type.params(p, m.rank, m.options ?? {})) local[s.name] = run.params[`${id}/${s.name}`]!;
    const { A, scales, B } = type.lowRank!(p, m.rank, m.options ?? {}, local);
    const r = m.rank!;
    const n = inModel(m.point);
    const inF = p.inFeatures!;
    const outF = p.outFeatures!;
    tensors[`${prefix}${n}.lora_A`] = { dtype: 'F32', shape: [r, inF], data: transpose(A, inF, r) };
    tensors[`${prefix}${n}.lora_E`] = {
      dtype: 'F32',
      shape: [r, 1],
      data: Float32Array.from(scales, (v) => v * (r + 1e-5)),
    };
    tensors[`${prefix}${n}.lora_B`] = { dtype: 'F32', shape: [outF, r], data: transpose(B, r, outF) };
    adaloraRankPattern[`${n}.lora_E`] = Array.from({ length: initR }, (_, k) => k < r);
  }

  const common = {
    task_type: 'SEQ_CLS',
    base_model_name_or_path: run.backbone.externalSource,
    revision: null,
    inference_mode: true,
  };
  const modulesToSave = [...head.externalModules, ...mergedPoints.map(inModel)];
  const config = lnTuning
    ? {
        ...common,
        peft_type: 'LN_TUNING',
        target_modules: mergedPoints.map(inModel),
        modules_to_save: [...head.externalModules],
      }
    : adalora.length > 0
      ? {
          ...common,
          peft_type: 'ADALORA',
          init_r: initR,
          target_r: Math.min(...adalora.map((m) => m.rank!)),
          r: initR,
          lora_alpha: 1,
          lora_dropout: 0.0,
          target_modules: adalora.map((m) => inModel(m.point)),
          rank_pattern: adaloraRankPattern,
          // The schedule fields only matter for training in peft; total_step must be set.
          total_step: 1000,
          tinit: 0,
          tfinal: 0,
          deltaT: 1,
          beta1: 0.85,
          beta2: 0.85,
          orth_reg_weight: 0.5,
          bias: 'none',
          fan_in_fan_out: false,
          init_lora_weights: true,
          modules_to_save: modulesToSave,
        }
      : {
          ...common,
          peft_type: 'LORA',
          r: r0,
          lora_alpha: r0,
          lora_dropout: 0.0,
          target_modules: lora.map((m) => inModel(m.point)),
          rank_pattern: rankPattern,
          alpha_pattern: alphaPattern,
          bias: 'none',
          fan_in_fan_out: false,
          init_lora_weights: true,
          modules_to_save: modulesToSave,
          use_rslora: false,
          use_dora: false,
          layers_to_transform: null,
          layers_pattern: null,
        };
  mkdirSync(out, { recursive: true });
  const files = [join(out, 'adapter_config.json'), join(out, 'adapter_model.safetensors')];
  writeFileSync(files[0]!, `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(files[1]!, encodeSafetensors(tensors as never, { format: 'pt' }));
  return { files, peftType: config.peft_type };
}
