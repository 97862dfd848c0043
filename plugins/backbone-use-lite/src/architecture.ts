/**
 * USE-lite ("KonaTransformer") as reconstructed from its TF.js graph, node by node.
 *
 * Below, `~` is `module_apply_default/Encoder_en/KonaTransformer`, `TS` is `~/Encode/TransformerStack`
 * and `Li` is `Layer_i/TransformerLayer`. What the 256 non-constant nodes of model.json compute:
 *
 *   ClipToMaxLength   keep the sparse (indices, values) entries whose position is < Less/y (= 128);
 *                     SparseToDense with default_value -1 gives ids [B, T]; mask = ids > -1.
 *   embedding_lookup  e = Embeddings_en[ids]                                  -> embeddings.word
 *   AddTimingSignal   pos · ExpandDims_1 (the 128 inverse timescales), [sin ‖ cos] (256 wide);
 *                     TS/Layer_0/add = Scatter(e) + Scatter(Gather(e) + signal), i.e. x = e + (e + signal)
 *                     at the tokens and 0 at padding. There is no sqrt(d) scaling of e.
 *   Li pre-LN         Mean, Sub, Square, Mean, + Cast/x (eps = float32(1e-6)), Rsqrt, ·scale, +bias
 *                     (`Encode/Li/layer_prepostprocess/layer_norm_{scale,bias}`)       -> layer.i.ln_attn
 *   Li qkv            ExpandDims + Conv2D 1×1 with `qkv_transform_single/kernel/part_0` [1,1,in,3w]
 *                     + bias, SplitV [w,w,w] into q | k | v (in that order)      -> layer.i.attn.q|k|v
 *   Li heads          Reshape [B,T,heads,hd] + Transpose [0,2,1,3]; heads = L1 …/Reshape/shape/2 (4),
 *                     hd = Li …/Reshape/shape/3 (64 in layer 0, 128 in layer 1)
 *   Li q scaling      q · TS/Li/MultiheadAttention/mul/y (0.125, 0.0883883…) before q·kᵀ
 *   padding bias      (1 - mask) · attention_bias_ignore_padding/mul/y (-1e9) on [B,1,1,T],
 *                     added to q·kᵀ; Softmax over keys; ·v; combine heads        -> layer.i.attn.scores
 *   Li output         Conv2D 1×1 `output_transform_single/kernel/part_0` [1,1,w,out] + bias -> layer.i.attn.o
 *   L0 residual       AdjustResidualInput: x·`Encode/L0/dense/kernel` [256,512] + bias (the residual
 *                     stream widens from 256 to 512), gathered/scattered at tokens -> layer.0.attn.residual
 *                     L1 adds its input unchanged (TS/L1/layer_postprocess/add).
 *   Li FFN            pre-LN (`FFN/layer_prepostprocess`)                       -> layer.i.ln_ffn
 *                     Tensordot with `TS/Li/FFN/conv1/Tensordot/Reshape_1` [512,1536] + bias, Relu,
 *                     `conv2/Tensordot/Reshape_1` [1536,512] + bias              -> layer.i.ffn.in|out
 *                     applied at the tokens only (Gather/Scatter), then added to the attention output.
 *   pooling           SequenceMask(Sum(mask)) -> Σ_t h·m / max(Σ m, 1)            (mean over tokens)
 *   hidden_layers     tanh(pooled·`tanh_layer_0/weights` [512,512] + bias)       -> pooler
 *   l2_normalize      y · rsqrt(max(Σ y², Maximum/y = 1e-12))                    (the returned 512-d vector)
 *
 * The graph has no dropout node. Its Gather/Scatter pairs around the FFN and the layer-0 residual only
 * change the hidden states of padded positions, which never reach the output (keys at padding get
 * -1e9 before the softmax, pooling masks them), so the reconstruction computes those blocks densely.
 * Padding is at the end of each row (the tokenizer's positions are 0..n-1), so SequenceMask equals
 * the token mask.
 */
import { createHash } from 'node:crypto';
import { DataError } from '@peftkit/api';
import { type TensorData, tensor } from '@peftkit/graph';
import type { RawWeight, UseLiteFiles } from './model-files.js';

const ROOT = 'module_apply_default/Encoder_en/KonaTransformer';
const STACK = `${ROOT}/Encode/TransformerStack`;
const ENC = `${ROOT}/Encode`;
const CONCAT = 'ConcatPartitions/concat';
/** The fused kernels keep their variable names (`module/...`), not the apply-scope names. */
const KERNELS = 'module/Encoder_en/KonaTransformer/Encode';
const SPLIT_HEADS = 'MultiheadAttention/split_heads/split_last_dimension/Reshape';
const PADDING_BIAS = 'MultiheadAttention/DotProductAttention/attention_bias_ignore_padding';

/** sha256 of `op name <- inputs` over the 256 non-Const nodes of the model.json reconstructed here. */
export const GRAPH_FINGERPRINT = '562a95a8b421733a6b6c9717b73b100000a8eda5c16852baa34158dbcd03c485';

export interface Linear {
  readonly weight: TensorData;
  readonly bias: TensorData;
}

export interface Norm {
  readonly scale: TensorData;
  readonly shift: TensorData;
}

export interface LayerWeights {
  readonly lnAttn: Norm;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly heads: number;
  readonly headDim: number;
  /** Multiplier of q (the graph's MultiheadAttention/mul/y). */
  readonly qScale: number;
  /** Layer 0 only: the AdjustResidualInput dense that widens the residual stream. */
  readonly residual?: Linear;
  readonly lnFfn: Norm;
  readonly ffnIn: Linear;
  readonly ffnOut: Linear;
}

export interface UseLiteWeights {
  /** [8002, 256]; the tokenizer's ids (0..7999) index it directly. */
  readonly embeddings: TensorData;
  /** Timing signal, one row per position: [maxPositions, 2·timescales] = [sin ‖ cos]. */
  readonly timingSignal: TensorData;
  readonly layers: readonly LayerWeights[];
  readonly pooler: Linear;
  readonly epsilon: number;
  readonly maskBias: number;
  readonly l2Epsilon: number;
  /** ClipToMaxLength: positions kept per sequence. */
  readonly maxPositions: number;
  /** Manifest elements that are graph constants (int32 shapes and axes, float scalars, timescales). */
  readonly constantElements: number;
  readonly manifestElements: number;
}

export function graphFingerprint(files: UseLiteFiles): string {
  const lines = files.nodes
    .filter((n) => n.op !== 'Const')
    .map((n) => `${n.op} ${n.name} <- ${(n.input ?? []).join(',')}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

class Reader {
  readonly used = new Set<string>();
  constructor(private readonly files: UseLiteFiles) {}

  get dir(): string {
    return this.files.dir;
  }

  private file(): string {
    return `${this.files.dir}/model.json`;
  }

  raw(name: string, shape: readonly number[], dtype: 'float32' | 'int32' = 'float32'): RawWeight {
    const w = this.files.weights.get(name);
    if (!w) throw new DataError(`weightsManifest has no weight ${name}`, this.file());
    if (w.dtype !== dtype || w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))
      throw new DataError(
        `weight ${name} is ${w.dtype}[${w.shape.join(',')}], expected ${dtype}[${shape.join(',')}]`,
        this.file(),
      );
    this.used.add(name);
    return w;
  }

  /** A float32 weight as TensorData of `as` (a zero-copy view; [1,1,in,out] kernels are [in,out]). */
  tensor(name: string, shape: readonly number[], as: readonly number[] = shape): TensorData {
    return { dtype: 'float32', shape: [...as], data: this.raw(name, shape).data };
  }

  scalar(name: string, dtype: 'float32' | 'int32' = 'float32'): number {
    return this.raw(name, [], dtype).data[0]!;
  }

  ints(name: string, length: number): number[] {
    return Array.from(this.raw(name, [length], 'int32').data);
  }
}

/** Columns [from, from + width) of a row-major [rows, cols] matrix (q, k, v out of the fused qkv). */
function columns(m: TensorData, from: number, width: number): TensorData {
  const [rows, cols] = m.shape as [number, number];
  const src = m.data as Float32Array;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * cols + from, r * cols + from + width), r * width);
  return tensor('float32', [rows, width], out);
}

function slice1d(v: TensorData, from: number, width: number): TensorData {
  return tensor('float32', [width], (v.data as Float32Array).slice(from, from + width));
}

function norm(r: Reader, prefix: string, width: number): Norm {
  return {
    scale: r.tensor(`${prefix}/layer_norm_scale/${CONCAT}`, [width]),
    shift: r.tensor(`${prefix}/layer_norm_bias/${CONCAT}`, [width]),
  };
}

function layer(r: Reader, i: number, inWidth: number, width: number, ffn: number): LayerWeights {
  const L = `Layer_${i}/TransformerLayer`;
  const mha = `${L}/MultiheadAttention`;
  const split = r.ints(`${STACK}/${mha}/Const`, 3);
  // The head count is one constant shared by both layers (TF constant folding kept Layer_1's).
  const heads = r.scalar(`${STACK}/Layer_1/TransformerLayer/${SPLIT_HEADS}/shape/2`, 'int32');
  const headDim = r.scalar(`${STACK}/${L}/${SPLIT_HEADS}/shape/3`, 'int32');
  const w = split[0]!;
  if (split.some((s) => s !== w) || heads * headDim !== w)
    throw new DataError(
      `layer ${i}: qkv split [${split.join(',')}] with ${heads} heads of ${headDim} is not the q|k|v layout reconstructed here`,
      `${r.dir}/model.json`,
    );
  const qkv = r.tensor(
    `${KERNELS}/${mha}/qkv_transform_single/kernel/part_0`,
    [1, 1, inWidth, 3 * w],
    [inWidth, 3 * w],
  );
  const qkvBias = r.tensor(`${ENC}/${mha}/qkv_transform_single/bias/${CONCAT}`, [3 * w]);
  const part = (k: number): Linear => ({
    weight: columns(qkv, k * w, w),
    bias: slice1d(qkvBias, k * w, w),
  });
  const dense = (kernel: string, bias: string, a: number, b: number): Linear => ({
    weight: r.tensor(kernel, [a, b]),
    bias: r.tensor(bias, [b]),
  });
  return {
    lnAttn: norm(r, `${ENC}/${L}/layer_prepostprocess/layer_norm`, inWidth),
    q: part(0),
    k: part(1),
    v: part(2),
    o: {
      weight: r.tensor(
        `${KERNELS}/${mha}/output_transform_single/kernel/part_0`,
        [1, 1, w, width],
        [w, width],
      ),
      bias: r.tensor(`${ENC}/${mha}/output_transform_single/bias/${CONCAT}`, [width]),
    },
    heads,
    headDim,
    qScale: r.scalar(`${STACK}/${mha}/mul/y`),
    residual:
      inWidth === width
        ? undefined
        : dense(`${ENC}/${L}/dense/kernel/${CONCAT}`, `${ENC}/${L}/dense/bias/${CONCAT}`, inWidth, width),
    lnFfn: norm(r, `${ENC}/${L}/FFN/layer_prepostprocess/layer_norm`, width),
    ffnIn: dense(
      `${STACK}/${L}/FFN/conv1/Tensordot/Reshape_1`,
      `${ENC}/${L}/FFN/conv1/bias/${CONCAT}`,
      width,
      ffn,
    ),
    ffnOut: dense(
      `${STACK}/${L}/FFN/conv2/Tensordot/Reshape_1`,
      `${ENC}/${L}/FFN/conv2/bias/${CONCAT}`,
      ffn,
      width,
    ),
  };
}

/**
 * Timing signal rows for positions 0..positions-1, computed as the graph does in float32:
 * angle = float32(pos · invTimescale), then sin and cos rounded to float32.
 */
function timingSignal(inv: Float32Array, positions: number): TensorData {
  const n = inv.length;
  const out = new Float32Array(positions * 2 * n);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < n; i++) {
      const angle = Math.fround(p * inv[i]!);
      out[p * 2 * n + i] = Math.sin(angle);
      out[p * 2 * n + n + i] = Math.cos(angle);
    }
  }
  return tensor('float32', [positions, 2 * n], out);
}

/** Map the decoded TF weights onto the reconstructed architecture, checking every shape. */
export function reconstruct(files: UseLiteFiles): UseLiteWeights {
  const modelFile = `${files.dir}/model.json`;
  const fp = graphFingerprint(files);
  if (fp !== GRAPH_FINGERPRINT)
    throw new DataError(
      `modelTopology differs from the USE-lite graph this plugin reconstructs (fingerprint ${fp}, ` +
        `expected ${GRAPH_FINGERPRINT}); its computation would not match`,
      modelFile,
    );
  const r = new Reader(files);
  const embeddings = r.tensor('module/Embeddings_en', [8002, 256]);
  const maxPositions = r.scalar(`${ROOT}/ClipToMaxLength/Less/y`, 'int32');
  const padValue = r.scalar(`${ENC}/SparseToDense/default_value`, 'int32');
  if (padValue !== -1 || maxPositions !== 128)
    throw new DataError(
      `expected padding id -1 and a 128-token clip, found ${padValue} and ${maxPositions}`,
      modelFile,
    );
  const inv = r.raw(`${STACK}/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`, [1, 128])
    .data as Float32Array;
  const weights: UseLiteWeights = {
    embeddings,
    timingSignal: timingSignal(inv, maxPositions),
    layers: [layer(r, 0, 256, 512, 1536), layer(r, 1, 512, 512, 1536)],
    pooler: {
      weight: r.tensor('module/Encoder_en/hidden_layers/tanh_layer_0/weights', [512, 512]),
      bias: r.tensor('module/Encoder_en/hidden_layers/tanh_layer_0/bias', [512]),
    },
    epsilon: r.scalar(`${STACK}/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`),
    maskBias: r.scalar(`${STACK}/Layer_1/TransformerLayer/${PADDING_BIAS}/mul/y`),
    l2Epsilon: r.scalar('module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y'),
    maxPositions,
    constantElements: 0,
    manifestElements: files.manifestElements,
  };
  // Every float tensor must be used: a weight the reconstruction ignored would change the output.
  // What remains are the graph's constants: int32 shapes/axes, float scalars, the inverse timescales.
  let constantElements = 0;
  for (const w of files.weights.values()) {
    if (!r.used.has(w.name) && w.dtype === 'float32')
      throw new DataError(
        `weight ${w.name} [${w.shape.join(',')}] is not used by the reconstruction`,
        modelFile,
      );
    if (w.dtype === 'int32' || w.shape.length === 0 || w.data === inv) constantElements += w.data.length;
  }
  return { ...weights, constantElements };
}
