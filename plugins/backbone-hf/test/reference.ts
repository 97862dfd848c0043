/**
 * An independent float64 forward pass of BERT / RoBERTa / DistilBERT, written from the published
 * architectures (Devlin et al. 2019; Liu et al. 2019; Sanh et al. 2019) and transformers'
 * modeling_bert / modeling_roberta / modeling_distilbert in eval mode, with plain loops.
 *
 * It shares no code with the plugin: it parses config.json and model.safetensors itself, keeps
 * PyTorch's [out, in] layout (y_o = Σ_i W[o, i] x_i + b_o), and computes RoBERTa's position ids
 * with the explicit running count of transformers' create_position_ids_from_input_ids.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Vec = Float64Array;

interface RefTensor {
  shape: number[];
  data: Float64Array;
}

function halfBitsToNumber(h: number): number {
  const s = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/** All tensors of a safetensors file as float64, keyed by their names in the file. */
export function readSafetensorsF64(file: string): Map<string, RefTensor> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + n;
  const out = new Map<string, RefTensor>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b] = h.data_offsets;
    const count = h.shape.reduce((a, c) => a * c, 1);
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      if (h.dtype === 'F32') data[i] = buf.readFloatLE(base + b + 4 * i);
      else if (h.dtype === 'F16') data[i] = halfBitsToNumber(buf.readUInt16LE(base + b + 2 * i));
      else if (h.dtype === 'BF16') {
        const f = Buffer.alloc(4);
        f.writeUInt32LE(buf.readUInt16LE(base + b + 2 * i) * 65536);
        data[i] = f.readFloatLE(0);
      } else if (h.dtype === 'I64') data[i] = Number(buf.readBigInt64LE(base + b + 8 * i));
      else throw new Error(`reference: dtype ${h.dtype} not handled`);
    }
    out.set(name, { shape: h.shape, data });
  }
  return out;
}

/** erf to ~1e-15: Taylor series near 0, continued fraction for erfc in the tails. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x;
    let sum = x;
    for (let k = 1; k < 200; k++) {
      term *= (-x * x) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let t = ax;
  for (let k = 80; k >= 1; k--) t = ax + k / 2 / t;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / t;
  return Math.sign(x) * (1 - erfc);
}

function act(name: string, x: number): number {
  switch (name) {
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case 'relu':
      return Math.max(0, x);
    default:
      throw new Error(`reference: activation ${name}`);
  }
}

export interface RefBatch {
  ids: number[][];
  /** 1 token, 0 padding. */
  mask: number[][];
  typeIds?: number[][];
}

export type RefPooling = 'cls' | 'mean' | 'pooler';

/** Pooled outputs [B][H] of the checkpoint in `dir` (eval mode). */
export function referenceForward(dir: string, batch: RefBatch, pooling: RefPooling): number[][] {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const raw = readSafetensorsF64(join(dir, 'model.safetensors'));
  const type = cfg.model_type as string;
  const distil = type === 'distilbert';
  // Task-model checkpoints prefix the encoder's names with the model type.
  const get = (name: string): RefTensor => {
    const t = raw.get(name) ?? raw.get(`${type}.${name}`);
    if (!t) throw new Error(`reference: no tensor ${name}`);
    return t;
  };
  const H = (distil ? cfg.dim : cfg.hidden_size) as number;
  const L = (distil ? cfg.n_layers : cfg.num_hidden_layers) as number;
  const nh = (distil ? cfg.n_heads : cfg.num_attention_heads) as number;
  const actName = (distil ? cfg.activation : cfg.hidden_act) as string;
  const eps = distil ? 1e-12 : (cfg.layer_norm_eps as number);
  const pad = cfg.pad_token_id as number;
  const dh = H / nh;

  const dense = (x: Vec, name: string): Vec => {
    const w = get(`${name}.weight`);
    const b = get(`${name}.bias`);
    const [outF, inF] = w.shape as [number, number];
    const y = new Float64Array(outF);
    for (let o = 0; o < outF; o++) {
      let s = b.data[o]!;
      for (let i = 0; i < inF; i++) s += w.data[o * inF + i]! * x[i]!;
      y[o] = s;
    }
    return y;
  };
  const layerNorm = (x: Vec, name: string): Vec => {
    const g = get(`${name}.weight`).data;
    const b = get(`${name}.bias`).data;
    let mean = 0;
    for (const v of x) mean += v;
    mean /= x.length;
    let v2 = 0;
    for (const v of x) v2 += (v - mean) ** 2;
    const inv = 1 / Math.sqrt(v2 / x.length + eps);
    return x.map((v, i) => (v - mean) * inv * g[i]! + b[i]!);
  };
  const row = (t: RefTensor, r: number): Vec => t.data.slice(r * H, (r + 1) * H);
  const addVec = (a: Vec, b: Vec): Vec => a.map((v, i) => v + b[i]!);

  return batch.ids.map((ids, bi) => {
    const mask = batch.mask[bi]!;
    const T = ids.length;
    // Position ids.
    let pos: number[];
    if (type === 'roberta') {
      let count = 0;
      pos = ids.map((id) => {
        if (id === pad) return pad;
        count++;
        return pad + count;
      });
    } else pos = ids.map((_, t) => t);

    const pre = distil ? 'transformer.layer' : 'encoder.layer';
    let h: Vec[] = ids.map((id, t) => {
      let e = addVec(
        row(get('embeddings.word_embeddings.weight'), id),
        row(get('embeddings.position_embeddings.weight'), pos[t]!),
      );
      if (!distil) {
        const tt = batch.typeIds?.[bi]?.[t] ?? 0;
        e = addVec(e, row(get('embeddings.token_type_embeddings.weight'), tt));
      }
      return layerNorm(e, 'embeddings.LayerNorm');
    });

    for (let l = 0; l < L; l++) {
      const p = `${pre}.${l}`;
      const names = distil
        ? {
            q: `${p}.attention.q_lin`,
            k: `${p}.attention.k_lin`,
            v: `${p}.attention.v_lin`,
            o: `${p}.attention.out_lin`,
            ln1: `${p}.sa_layer_norm`,
            f1: `${p}.ffn.lin1`,
            f2: `${p}.ffn.lin2`,
            ln2: `${p}.output_layer_norm`,
          }
        : {
            q: `${p}.attention.self.query`,
            k: `${p}.attention.self.key`,
            v: `${p}.attention.self.value`,
            o: `${p}.attention.output.dense`,
            ln1: `${p}.attention.output.LayerNorm`,
            f1: `${p}.intermediate.dense`,
            f2: `${p}.output.dense`,
            ln2: `${p}.output.LayerNorm`,
          };
      const q = h.map((x) => dense(x, names.q));
      const k = h.map((x) => dense(x, names.k));
      const v = h.map((x) => dense(x, names.v));
      const ctx = h.map(() => new Float64Array(H));
      for (let head = 0; head < nh; head++) {
        for (let t = 0; t < T; t++) {
          // Padding keys get probability 0 (the limit of adding a huge negative mask).
          const scores = new Float64Array(T);
          let max = -Infinity;
          for (let s = 0; s < T; s++) {
            if (!mask[s]) continue;
            let d = 0;
            for (let j = 0; j < dh; j++) d += q[t]![head * dh + j]! * k[s]![head * dh + j]!;
            scores[s] = d / Math.sqrt(dh);
            max = Math.max(max, scores[s]!);
          }
          let z = 0;
          for (let s = 0; s < T; s++) if (mask[s]) z += Math.exp(scores[s]! - max);
          for (let s = 0; s < T; s++) {
            if (!mask[s]) continue;
            const pr = Math.exp(scores[s]! - max) / z;
            for (let j = 0; j < dh; j++) ctx[t]![head * dh + j]! += pr * v[s]![head * dh + j]!;
          }
        }
      }
      h = h.map((x, t) => layerNorm(addVec(x, dense(ctx[t]!, names.o)), names.ln1));
      h = h.map((x) => {
        const inter = dense(x, names.f1).map((u) => act(actName, u));
        return layerNorm(addVec(x, dense(inter, names.f2)), names.ln2);
      });
    }

    if (pooling === 'mean') {
      const s = new Float64Array(H);
      let n = 0;
      h.forEach((x, t) => {
        if (!mask[t]) return;
        n++;
        for (let i = 0; i < H; i++) s[i]! += x[i]!;
      });
      return Array.from(s, (v) => v / n);
    }
    if (pooling === 'cls') return Array.from(h[0]!);
    return Array.from(dense(h[0]!, 'pooler.dense'), Math.tanh);
  });
}
