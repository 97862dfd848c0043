/**
 * What the conformance suites share: the check that a value is plain data (what checkpoints and
 * executors can store and ship), fingerprints of job streams, and small fixtures (a quiet logger,
 * module-type lookups, seeded tensors).
 */
import type { Logger, ModuleTypes, PeftModuleType } from '@peftkit/api';

/** Default time limit of one suite's tests (the suites themselves take a few seconds at most). */
export const SUITE_TIMEOUT_MS = 60_000;

export const quietLogger: Logger = { info() {}, warn() {}, debug() {} };

/** Module types given as a ModuleTypes, a list or a record by name. */
export type ModuleTypeSource =
  ModuleTypes | readonly PeftModuleType[] | Readonly<Record<string, PeftModuleType>>;

export function toModuleTypes(src: ModuleTypeSource): ModuleTypes {
  if (!Array.isArray(src) && typeof (src as ModuleTypes).get === 'function') return src as ModuleTypes;
  const list: readonly PeftModuleType[] = Array.isArray(src)
    ? src
    : Object.values(src as Readonly<Record<string, PeftModuleType>>);
  const byName = new Map(list.map((t) => [t.name, t]));
  return {
    get(name: string): PeftModuleType {
      const t = byName.get(name);
      if (!t) throw new Error(`no module type "${name}" (given: ${[...byName.keys()].join(', ')})`);
      return t;
    },
    names: () => [...byName.keys()],
  };
}

const TYPED_ARRAYS: readonly (abstract new (...args: never[]) => ArrayBufferView)[] = [
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint8ClampedArray,
  Uint16Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
];

/**
 * Why `value` is not plain data, or null when it is. Plain data is what the engine's checkpoints
 * store and executors may send to other processes: null, booleans, numbers, bigints, strings,
 * arrays, plain objects and typed arrays, without functions, class instances (Map, Set, Date, ...)
 * or cycles. `undefined` is allowed as an object property (it is dropped when stored).
 */
export function plainDataProblem(value: unknown, path = ''): string | null {
  const stack = new Set<object>();
  const walk = (v: unknown, at: string): string | null => {
    const where = at || '(root)';
    if (v === null || v === undefined) return null;
    const t = typeof v;
    if (t === 'number' || t === 'string' || t === 'boolean' || t === 'bigint') return null;
    if (t !== 'object') return `${where} is a ${t}`;
    if (ArrayBuffer.isView(v)) {
      return TYPED_ARRAYS.some((c) => v instanceof c) ? null : `${where} is a ${v.constructor.name}`;
    }
    const o = v as object;
    if (stack.has(o)) return `${where} is a circular reference`;
    stack.add(o);
    try {
      if (Array.isArray(o)) {
        for (let i = 0; i < o.length; i++) {
          const p = walk(o[i], `${at}[${i}]`);
          if (p) return p;
        }
        return null;
      }
      const proto = Object.getPrototypeOf(o) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        return `${where} is a ${(o as { constructor?: { name?: string } }).constructor?.name ?? 'class instance'} (plain objects, arrays and typed arrays only)`;
      }
      for (const [k, x] of Object.entries(o)) {
        const p = walk(x, at ? `${at}.${k}` : k);
        if (p) return p;
      }
      return null;
    } finally {
      stack.delete(o);
    }
  };
  return walk(value, path);
}

/**
 * A 64-bit fingerprint (as hex) of a plain-data value: equal values (typed arrays compared by
 * their bytes, object keys in any order) give equal fingerprints. Used to compare long job streams
 * without keeping them.
 */
export function fingerprint(value: unknown): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  const byte = (b: number) => {
    h1 = Math.imul(h1 ^ b, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ b, 0x5bd1e995) >>> 0;
    h2 = (h2 ^ (h2 >>> 15)) >>> 0;
  };
  const text = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      byte(c & 255);
      byte(c >>> 8);
    }
    byte(0);
  };
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) return text(String(v));
    if (typeof v !== 'object') return text(`${typeof v}:${String(v)}`);
    if (ArrayBuffer.isView(v)) {
      text(v.constructor.name);
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      for (let i = 0; i < bytes.length; i++) byte(bytes[i]!);
      return text(`/${bytes.length}`);
    }
    if (Array.isArray(v)) {
      text(`[${v.length}`);
      for (const x of v) walk(x);
      return text(']');
    }
    const entries = Object.entries(v as object)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    text(`{${entries.length}`);
    for (const [k, x] of entries) {
      text(k);
      walk(x);
    }
    text('}');
  };
  walk(value);
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** Freeze a value and everything in it (typed arrays cannot be frozen and are left as they are). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    for (const x of Object.values(value as object)) deepFreeze(x);
    Object.freeze(value);
  }
  return value;
}

/**
 * Remove wall-clock measurements (keys `seconds` and `...Seconds`) from a plain-data value, so that
 * two runs of the same search can be compared exactly.
 */
export function withoutTimings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'seconds' || k.endsWith('Seconds')) continue;
    out[k] = withoutTimings(v);
  }
  return out;
}

/** A float32 tensor of standard-normal values drawn from a small seeded generator. */
export function seededNormals(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) * scale;
  return out;
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cannot compare arrays of length ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A factory the suites call for a fresh instance (sync or async). */
export type Factory<T> = () => T | Promise<T>;
