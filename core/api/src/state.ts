/**
 * Checkpoint state encoding: a JSON-like value that may hold typed arrays anywhere becomes JSON
 * text (typed arrays replaced by references) plus the arrays as safetensors tensors. Numbers JSON
 * cannot hold (NaN, ±Infinity, -0) and bigints are encoded too, so decoding restores the state
 * exactly.
 */
import { DataError } from './errors.js';
import type { SafetensorsDtype, SafetensorsTensor } from './safetensors.js';

type ArrayCtor = { new (length: number): ArrayBufferView & ArrayLike<unknown>; readonly name: string };

const TYPED: ReadonlyArray<readonly [ArrayCtor, SafetensorsDtype]> = [
  [Float32Array, 'F32'],
  [Float64Array, 'F64'],
  [Int32Array, 'I32'],
  [Uint32Array, 'U32'],
  [BigInt64Array, 'I64'],
  [BigUint64Array, 'U64'],
  [Int16Array, 'I16'],
  [Uint16Array, 'U16'],
  [Int8Array, 'I8'],
  [Uint8Array, 'U8'],
  [Uint8ClampedArray, 'U8'],
] as unknown as ReadonlyArray<readonly [ArrayCtor, SafetensorsDtype]>;

const BY_NAME = new Map(TYPED.map(([ctor, dtype]) => [ctor.name, { ctor, dtype }]));

const TENSOR_KEY = '$tensor';
const NUMBER_KEY = '$number';
const BIGINT_KEY = '$bigint';
const RESERVED = [TENSOR_KEY, NUMBER_KEY, BIGINT_KEY];

export interface EncodedState {
  json: string;
  tensors: Record<string, SafetensorsTensor>;
}

function escapeSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Encode `state`; throws on values a checkpoint cannot restore (functions, Maps, class instances). */
export function encodeState(state: unknown): EncodedState {
  const tensors: Record<string, SafetensorsTensor> = {};
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'number') {
      if (Number.isNaN(v) || !Number.isFinite(v) || Object.is(v, -0))
        return { [NUMBER_KEY]: String(Object.is(v, -0) ? '-0' : v) };
      return v;
    }
    if (typeof v === 'bigint') return { [BIGINT_KEY]: v.toString() };
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (v === undefined) return null;
    if (typeof v !== 'object')
      throw new Error(`checkpoint state at ${path || '/'}: cannot store a ${typeof v}`);
    if (ArrayBuffer.isView(v)) {
      const info = BY_NAME.get(v.constructor.name);
      if (!info || !(v instanceof info.ctor)) {
        throw new Error(`checkpoint state at ${path || '/'}: cannot store a ${v.constructor.name}`);
      }
      const name = path || '/';
      const view = v as ArrayBufferView;
      const data =
        view instanceof Uint8ClampedArray
          ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
          : (view as unknown as SafetensorsTensor['data']);
      tensors[name] = { dtype: info.dtype, shape: [data.length], data };
      return { [TENSOR_KEY]: name, type: v.constructor.name };
    }
    if (seen.has(v)) throw new Error(`checkpoint state at ${path || '/'}: circular reference`);
    seen.add(v);
    try {
      if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}/${i}`));
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new Error(
          `checkpoint state at ${path || '/'}: cannot store a ${(v as object).constructor?.name ?? 'object'} (plain objects, arrays and typed arrays only)`,
        );
      }
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (RESERVED.includes(k))
          throw new Error(`checkpoint state at ${path}/${k}: the key "${k}" is reserved`);
        if (x === undefined) continue;
        out[k] = walk(x, `${path}/${escapeSegment(k)}`);
      }
      return out;
    } finally {
      seen.delete(v);
    }
  };
  const json = JSON.stringify(walk(state, ''));
  return { json, tensors };
}

/** Decode what encodeState produced; `file` names the checkpoint in errors. */
export function decodeState(
  json: string,
  tensors: Readonly<Record<string, SafetensorsTensor>>,
  file?: string,
): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new DataError(`checkpoint state is not valid JSON: ${(e as Error).message}`, file);
  }
  const used = new Set<string>();
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if (typeof o[NUMBER_KEY] === 'string') return Number(o[NUMBER_KEY] === '-0' ? -0 : o[NUMBER_KEY]);
    if (typeof o[BIGINT_KEY] === 'string') return BigInt(o[BIGINT_KEY] as string);
    if (typeof o[TENSOR_KEY] === 'string') {
      const name = o[TENSOR_KEY] as string;
      const t = tensors[name];
      const info = BY_NAME.get(String(o.type));
      if (!t)
        throw new DataError(
          `checkpoint state refers to tensor "${name}", which the file does not hold`,
          file,
        );
      if (!info || info.dtype !== t.dtype) {
        throw new DataError(
          `tensor "${name}": stored as ${t.dtype}, but the state expects a ${String(o.type)}`,
          file,
        );
      }
      used.add(name);
      const out = new info.ctor(t.data.length);
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(
        new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      );
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = walk(x);
    return out;
  };
  const state = walk(parsed);
  const unused = Object.keys(tensors).filter((n) => !used.has(n));
  if (unused.length > 0)
    throw new DataError(`checkpoint holds tensors the state does not refer to: ${unused.join(', ')}`, file);
  return state;
}
