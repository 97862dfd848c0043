/**
 * The weights of a Hugging Face encoder checkpoint, matched against the names and shapes that the
 * transformers library writes for BertModel / RobertaModel / XLMRobertaModel / DistilBertModel /
 * ElectraModel (and for their task models, whose encoder weights carry the `bert.` / `roberta.` /
 * `distilbert.` / `electra.` prefix).
 *
 * Linear weights are stored by PyTorch as [out, in]; the graph applies x·W with W [in, out], so
 * they are transposed once here. Every attachment-point weight is addressed by (point, role), the
 * names the graph and PEFT modules use.
 */
import { DataError, type SafetensorsFile, type SafetensorsTensor, type WeightRole } from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import type { HfConfig } from './config.js';

/** One expected checkpoint tensor and where it goes. */
export interface WeightSpec {
  /** Name in the checkpoint, without the model prefix. */
  readonly hfName: string;
  readonly point: string;
  readonly role: WeightRole;
  /** Shape as stored in the checkpoint ([out, in] for linear weights). */
  readonly shape: readonly number[];
  /** Linear weight: transpose [out, in] -> [in, out] at load time. */
  readonly transpose: boolean;
  /** Absent weights are allowed (the pooler: task checkpoints of RoBERTa have none). */
  readonly optional?: boolean;
}

/**
 * Tensors that checkpoints may carry besides the encoder: buffers (position ids) and the task
 * heads of BertFor* / RobertaFor* / DistilBertFor* models. They are skipped, and the skipped names
 * are reported in the backbone's description.
 */
const IGNORED_BUFFERS = ['embeddings.position_ids', 'embeddings.token_type_ids'];
const TASK_HEAD_PREFIXES = [
  'classifier.',
  'cls.',
  'pre_classifier.',
  'lm_head.',
  'qa_outputs.',
  'vocab_transform.',
  'vocab_layer_norm.',
  'vocab_projector.',
  'discriminator_predictions.',
  'generator_predictions.',
  'generator_lm_head.',
];

function linearSpecs(hf: string, point: string, inF: number, outF: number, optional = false): WeightSpec[] {
  return [
    { hfName: `${hf}.weight`, point, role: 'weight', shape: [outF, inF], transpose: true, optional },
    { hfName: `${hf}.bias`, point, role: 'bias', shape: [outF], transpose: false, optional },
  ];
}

function normSpecs(hf: string, point: string, width: number): WeightSpec[] {
  return [
    { hfName: `${hf}.weight`, point, role: 'scale', shape: [width], transpose: false },
    { hfName: `${hf}.bias`, point, role: 'shift', shape: [width], transpose: false },
  ];
}

function tableSpec(hf: string, point: string, rows: number, width: number): WeightSpec {
  return { hfName: `${hf}.weight`, point, role: 'table', shape: [rows, width], transpose: false };
}

/** Every tensor a checkpoint of this configuration holds, in the transformers naming. */
export function weightSpecs(cfg: HfConfig): WeightSpec[] {
  const H = cfg.hiddenSize;
  const E = cfg.embeddingSize;
  const I = cfg.intermediateSize;
  const specs: WeightSpec[] = [
    tableSpec('embeddings.word_embeddings', 'embeddings.word', cfg.vocabSize, E),
    tableSpec('embeddings.position_embeddings', 'embeddings.position', cfg.maxPositions, E),
  ];
  if (cfg.typeVocabSize > 0) {
    specs.push(tableSpec('embeddings.token_type_embeddings', 'embeddings.type', cfg.typeVocabSize, E));
  }
  specs.push(...normSpecs('embeddings.LayerNorm', 'embeddings.ln', E));
  if (E !== H) specs.push(...linearSpecs('embeddings_project', 'embeddings.project', E, H));
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `layer.${i}`;
    if (cfg.modelType === 'distilbert') {
      const l = `transformer.layer.${i}`;
      specs.push(
        ...linearSpecs(`${l}.attention.q_lin`, `${p}.attn.q`, H, H),
        ...linearSpecs(`${l}.attention.k_lin`, `${p}.attn.k`, H, H),
        ...linearSpecs(`${l}.attention.v_lin`, `${p}.attn.v`, H, H),
        ...linearSpecs(`${l}.attention.out_lin`, `${p}.attn.o`, H, H),
        ...normSpecs(`${l}.sa_layer_norm`, `${p}.ln_attn`, H),
        ...linearSpecs(`${l}.ffn.lin1`, `${p}.ffn.in`, H, I),
        ...linearSpecs(`${l}.ffn.lin2`, `${p}.ffn.out`, I, H),
        ...normSpecs(`${l}.output_layer_norm`, `${p}.ln_ffn`, H),
      );
    } else {
      const l = `encoder.layer.${i}`;
      specs.push(
        ...linearSpecs(`${l}.attention.self.query`, `${p}.attn.q`, H, H),
        ...linearSpecs(`${l}.attention.self.key`, `${p}.attn.k`, H, H),
        ...linearSpecs(`${l}.attention.self.value`, `${p}.attn.v`, H, H),
        ...linearSpecs(`${l}.attention.output.dense`, `${p}.attn.o`, H, H),
        ...normSpecs(`${l}.attention.output.LayerNorm`, `${p}.ln_attn`, H),
        ...linearSpecs(`${l}.intermediate.dense`, `${p}.ffn.in`, H, I),
        ...linearSpecs(`${l}.output.dense`, `${p}.ffn.out`, I, H),
        ...normSpecs(`${l}.output.LayerNorm`, `${p}.ln_ffn`, H),
      );
    }
  }
  if (cfg.modelType !== 'distilbert' && cfg.modelType !== 'electra')
    specs.push(...linearSpecs('pooler.dense', 'pooler', H, H, true));
  return specs;
}

export interface LoadedWeights {
  /** point -> role -> tensor (linear weights already [in, out]). */
  readonly byPoint: Map<string, Partial<Record<WeightRole, TensorData>>>;
  /** Whether the checkpoint has BERT's pooler (pooler.dense). */
  readonly hasPooler: boolean;
  /** Checkpoint tensors that were skipped (task heads, buffers), with their original names. */
  readonly ignored: string[];
  /** The task-head tensors (`classifier.weight`), which a matching head starts from. */
  readonly head: Map<string, SafetensorsTensor>;
  /** Stored float dtypes other than F32 that were converted to float32. */
  readonly converted: Map<string, number>;
  /** The prefix stripped from the names (`bert.`), or '' for base-model checkpoints. */
  readonly prefix: string;
}

/** float16 bits -> value (IEEE 754 binary16; every such value is exactly a float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * A float tensor's values as float32: F32 as stored (a view of the file bytes when aligned),
 * F16/BF16 widened exactly, F64 rounded. Null for non-float dtypes.
 */
export function asFloat32(t: SafetensorsTensor): Float32Array | null {
  switch (t.dtype) {
    case 'F32':
      // An own copy, not a view: a view would keep the whole file's buffer (every tensor, and
      // the [out, in] originals of the transposed linears) alive as long as the backbone.
      return (t.data as Float32Array).slice();
    case 'F64':
      return Float32Array.from(t.data as Float64Array);
    case 'F16':
      return Float32Array.from(t.data as Uint16Array, halfToFloat);
    case 'BF16': {
      // bfloat16 is the upper half of a float32.
      const src = t.data as Uint16Array;
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      return null;
  }
}

/**
 * A float32 array over a SharedArrayBuffer. The frozen weights live in these: a training backend
 * that runs its sessions in a worker thread shares them instead of copying them into every compile
 * request, so compiling a program holds no extra copy of the weights in flight.
 */
function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * length));
}

export function transposed(
  data: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array = new Float32Array(data.length),
): Float32Array {
  // [rows, cols] -> [cols, rows]
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
  }
  return out;
}

/** The transformers rename of TF-era LayerNorm parameter names (`gamma`/`beta`). */
function canonicalName(name: string): string {
  if (name.endsWith('.gamma')) return `${name.slice(0, -6)}.weight`;
  if (name.endsWith('.beta')) return `${name.slice(0, -5)}.bias`;
  return name;
}

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Match the checkpoint's tensors against the configuration; `file` names the safetensors file. */
export function loadWeights(st: SafetensorsFile, cfg: HfConfig, file: string): LoadedWeights {
  const prefix = `${cfg.modelPrefix}.`;
  const specs = weightSpecs(cfg);
  const specByName = new Map(specs.map((s) => [s.hfName, s]));
  const names = Object.keys(st.tensors);
  const hasPrefixed = names.some((n) => n.startsWith(prefix));
  const found = new Map<string, string>(); // canonical name -> original name
  const ignored: string[] = [];
  const head = new Map<string, SafetensorsTensor>();
  for (const original of names) {
    let name = original;
    if (name.startsWith(prefix)) name = name.slice(prefix.length);
    else if (TASK_HEAD_PREFIXES.some((p) => name.startsWith(p))) {
      ignored.push(original);
      head.set(original, st.tensors[original]!);
      continue;
    }
    name = canonicalName(name);
    if (IGNORED_BUFFERS.includes(name)) {
      ignored.push(original);
      continue;
    }
    if (!specByName.has(name)) {
      throw new DataError(
        `unexpected weight "${original}": a ${cfg.modelType} encoder with the dimensions of config.json ` +
          `(${cfg.numLayers} layer${cfg.numLayers === 1 ? '' : 's'}) has no such tensor`,
        file,
      );
    }
    const other = found.get(name);
    if (other !== undefined) {
      throw new DataError(`weights "${other}" and "${original}" are the same tensor under two names`, file);
    }
    found.set(name, original);
  }

  const byPoint = new Map<string, Partial<Record<WeightRole, TensorData>>>();
  const converted = new Map<string, number>();
  let poolerTensors = 0;
  for (const spec of specs) {
    const original = found.get(spec.hfName);
    if (original === undefined) {
      if (spec.optional) continue;
      const shown = hasPrefixed ? `${prefix}${spec.hfName}` : spec.hfName;
      throw new DataError(
        `missing weight "${shown}" (expected ${shapeStr(spec.shape)} from config.json)`,
        file,
      );
    }
    const entry = st.tensors[original]!;
    let data = asFloat32(entry);
    if (data === null) {
      throw new DataError(`weight "${original}": expected a float dtype, found ${entry.dtype}`, file);
    }
    if (shapeStr(entry.shape) !== shapeStr(spec.shape)) {
      throw new DataError(
        `weight "${original}": expected shape ${shapeStr(spec.shape)} (from config.json), found ` +
          shapeStr(entry.shape),
        file,
      );
    }
    if (entry.dtype !== 'F32') converted.set(entry.dtype, (converted.get(entry.dtype) ?? 0) + 1);
    let shape = [...spec.shape];
    const frozen = sharedFloat32(data.length);
    if (spec.transpose) {
      data = transposed(data, spec.shape[0]!, spec.shape[1]!, frozen);
      shape = [spec.shape[1]!, spec.shape[0]!];
    } else {
      frozen.set(data);
      data = frozen;
    }
    let roles = byPoint.get(spec.point);
    if (!roles) byPoint.set(spec.point, (roles = {}));
    roles[spec.role] = { dtype: 'float32', shape, data };
    if (spec.point === 'pooler') poolerTensors++;
  }
  if (poolerTensors === 1) {
    throw new DataError('the pooler is incomplete: pooler.dense needs both weight and bias', file);
  }
  return {
    byPoint,
    hasPooler: poolerTensors === 2,
    ignored,
    head,
    converted,
    prefix: hasPrefixed ? prefix : '',
  };
}
