/**
 * A Hugging Face PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors, as
 * peft's save_pretrained writes it) as a peftkit architecture and its parameters, on the backbone
 * it was made for: the inverse of peft-adapter.ts.
 *
 * - Only `peft_type: LORA` without DoRA, LoRA biases or target parameters; other methods are
 *   refused with the reason.
 * - The adapter's base model must be the backbone's checkpoint: `base_model_name_or_path` must
 *   resolve to the same directory (or name it by the same hub id).
 * - Each `<module>.lora_A.weight` [r, in] / `lora_B.weight` [out, r] becomes a LoRA module at the
 *   point the backbone maps that transformers module to, rank r, alpha from alpha_pattern or
 *   lora_alpha (rsLoRA's alpha/sqrt(r) scaling folded into alpha).
 * - The task head's tensors (modules_to_save `classifier`, ...) become the head's parameters when
 *   the backbone's head is the transformers one; other modules_to_save are refused.
 */
import type { Architecture, Backbone, ModuleTypes, ParamSet, TaskInfo } from '@peftkit/api';
import { ConfigError, DataError, decodeSafetensors, moduleId } from '@peftkit/api';
import { PeftToolkit } from '@peftkit/nn';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface ImportedAdapter {
  architecture: Architecture;
  /** Module parameters and the head's, by peftkit name; the head is absent when the adapter has none. */
  params: ParamSet;
  /** Whether the adapter carried the task head (else it starts as the backbone's head starts). */
  hasHead: boolean;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** PEFT's pattern lookup: a key matches a module whose name is it or ends with `.key`. */
function patternValue(pattern: unknown, name: string): number | undefined {
  if (typeof pattern !== 'object' || pattern === null) return undefined;
  for (const [k, v] of Object.entries(pattern as Record<string, unknown>))
    if ((name === k || name.endsWith(`.${k}`)) && typeof v === 'number') return v;
  return undefined;
}

function sameBase(given: unknown, source: string | undefined, cwd: string): boolean {
  if (typeof given !== 'string' || !source) return false;
  if (given === source) return true;
  const dir = resolve(cwd, given);
  try {
    return existsSync(dir) && realpathSync(dir) === realpathSync(source);
  } catch {
    return false;
  }
}

export function importPeftAdapter(
  dir: string,
  backbone: Backbone,
  task: TaskInfo,
  types: ModuleTypes,
  cwd = process.cwd(),
): ImportedAdapter {
  const configFile = join(dir, 'adapter_config.json');
  const weightsFile = join(dir, 'adapter_model.safetensors');
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new DataError(`cannot read the PEFT adapter's configuration: ${why}`, configFile);
  }
  if (cfg.peft_type !== 'LORA')
    throw new DataError(
      `peft_type ${JSON.stringify(cfg.peft_type)} is not supported: peftkit imports LoRA adapters (peft_type LORA) only`,
      configFile,
    );
  for (const [field, why] of [
    ['use_dora', 'DoRA'],
    ['lora_bias', 'LoRA biases'],
  ] as const)
    if (cfg[field]) throw new DataError(`${why} (${field}: true) has no peftkit counterpart`, configFile);
  if (Array.isArray(cfg.target_parameters) && cfg.target_parameters.length > 0)
    throw new DataError('target_parameters (LoRA on raw parameters) has no peftkit counterpart', configFile);
  if (!backbone.externalName || !backbone.externalSource)
    throw new ConfigError(
      `the ${backbone.info.name} backbone has no Hugging Face counterpart, so a PEFT adapter cannot be loaded onto it`,
      undefined,
      'backbone',
    );
  if (!sameBase(cfg.base_model_name_or_path, backbone.externalSource, cwd))
    throw new DataError(
      `the adapter was made for ${JSON.stringify(cfg.base_model_name_or_path)}, not for the backbone's checkpoint ` +
        `${backbone.externalSource}: an adapter only fits the base model it was trained on`,
      configFile,
    );

  const toolkit = new PeftToolkit(backbone, task, types);
  const head = toolkit.head();
  const byModule = new Map<string, string>();
  for (const p of backbone.info.points) {
    const n = backbone.externalName(p.name);
    if (n) byModule.set(n, p.name);
  }
  const headByName = new Map(head.params.map((p) => [head.externalName(p.name).name, p]));
  const st = decodeSafetensors(readFileSync(weightsFile), weightsFile);
  const lora = new Map<
    string,
    { A?: Float32Array; B?: Float32Array; rank?: number; out?: number; in?: number }
  >();
  const params: ParamSet = {};
  let headTensors = 0;
  for (const [key, t] of Object.entries(st.tensors)) {
    if (t.dtype !== 'F32')
      throw new DataError(
        `tensor "${key}": expected F32, found ${t.dtype} (save the adapter in float32)`,
        weightsFile,
      );
    let name = key.replace(/^base_model\.model\./, '');
    const m = /^(.*)\.lora_([AB])(?:\.default)?\.weight$/.exec(name);
    if (m) {
      let module = m[1]!;
      if (head.encoderModule && module.startsWith(`${head.encoderModule}.`))
        module = module.slice(head.encoderModule.length + 1);
      const point = byModule.get(module);
      if (!point)
        throw new DataError(
          `tensor "${key}": the ${backbone.info.modelType} backbone has no module "${module}"`,
          weightsFile,
        );
      const e = lora.get(point) ?? {};
      if (m[2] === 'A') [e.A, e.rank, e.in] = [t.data as Float32Array, t.shape[0], t.shape[1]];
      else [e.B, e.out] = [t.data as Float32Array, t.shape[0]];
      lora.set(point, e);
      continue;
    }
    name = name.replace(/\.modules_to_save\.default\./, '.');
    const hp = headByName.get(name);
    if (!hp || !head.encoderModule)
      throw new DataError(
        `tensor "${key}": not a LoRA tensor and not a tensor of the ${head.description}; ` +
          'peftkit imports LoRA modules and the task head only',
        weightsFile,
      );
    const { transpose: tr } = head.externalName(hp.name);
    const want = tr ? [hp.shape[1], hp.shape[0]] : hp.shape;
    if (t.shape.join(',') !== want.join(','))
      throw new DataError(
        `tensor "${key}": expected shape [${want.join(', ')}] for this task's head, found [${t.shape.join(', ')}]`,
        weightsFile,
      );
    params[`head/${hp.name}`] = tr
      ? transpose(t.data as Float32Array, hp.shape[1]!, hp.shape[0]!)
      : Float32Array.from(t.data as Float32Array);
    headTensors++;
  }
  if (headTensors > 0 && headTensors !== head.params.length)
    throw new DataError(
      `the adapter holds ${headTensors} of the head's ${head.params.length} tensors`,
      weightsFile,
    );

  const modules: Architecture['modules'] = [];
  const r0 = typeof cfg.r === 'number' ? cfg.r : 8;
  const alpha0 = typeof cfg.lora_alpha === 'number' ? cfg.lora_alpha : r0;
  for (const [point, e] of lora) {
    const p = toolkit.point(point);
    if (!e.A || !e.B)
      throw new DataError(`${point}: the adapter has only one of lora_A and lora_B`, weightsFile);
    const r = e.rank!;
    if (e.in !== p.inFeatures || e.out !== p.outFeatures || e.B.length !== e.out! * r)
      throw new DataError(
        `${point}: LoRA shapes do not fit the layer [${p.inFeatures} -> ${p.outFeatures}]`,
        weightsFile,
      );
    const ext = `${head.encoderModule ?? ''}${head.encoderModule ? '.' : ''}${backbone.externalName(point)}`;
    let alpha = patternValue(cfg.alpha_pattern, ext) ?? alpha0;
    // rsLoRA scales by alpha / sqrt(r); peftkit's LoRA by alpha / r.
    if (cfg.use_rslora) alpha *= Math.sqrt(r);
    modules.push({ type: 'lora', point, rank: r, ...(alpha === r ? {} : { options: { alpha } }) });
    const id = moduleId('lora', point);
    params[`${id}/A`] = transpose(e.A, r, e.in!);
    params[`${id}/B`] = transpose(e.B, e.out!, r);
  }
  if (modules.length === 0) throw new DataError('the adapter has no LoRA tensors', weightsFile);
  return { architecture: { modules }, params, hasHead: headTensors > 0 };
}
