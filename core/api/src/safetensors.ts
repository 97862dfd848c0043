/**
 * safetensors: the tensor file format of Hugging Face (https://github.com/huggingface/safetensors),
 * used for pretrained weights, run checkpoints and exported adapters.
 *
 * Layout, all little-endian:
 *   - 8 bytes: N, the size of the header (unsigned 64-bit integer);
 *   - N bytes: a UTF-8 JSON object starting with `{`, padded at the end with spaces (0x20) so that
 *     the data section starts at a multiple of 8. Keys are tensor names, each mapped to
 *     `{"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}` with offsets relative to the
 *     start of the data section; the optional key `__metadata__` maps strings to strings;
 *   - the data section: every tensor's bytes, row-major, with no holes and nothing left over.
 *
 * F16 and BF16 travel as raw 16-bit patterns (Uint16Array); JavaScript has no such floats.
 * The encoder orders tensors as the reference implementation does (largest alignment first, then by
 * name), so that every tensor starts at a multiple of its element size and decodes without copying;
 * the decoder copies only when a tensor is misaligned.
 */
import { DataError } from './errors.js';

export type SafetensorsDtype =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'U64' | 'I32' | 'U32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';

/** The typed array that holds each dtype's elements (F16/BF16: raw bits; BOOL: one byte, 0 or 1). */
export interface SafetensorsArrays {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  U64: BigUint64Array;
  I32: Int32Array;
  U32: Uint32Array;
  I16: Int16Array;
  U16: Uint16Array;
  I8: Int8Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

export type SafetensorsArray = SafetensorsArrays[SafetensorsDtype];

export interface SafetensorsTensor<D extends SafetensorsDtype = SafetensorsDtype> {
  dtype: D;
  shape: readonly number[];
  data: SafetensorsArrays[D];
}

export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor>;
  /** The `__metadata__` strings ({} when absent). */
  metadata: Record<string, string>;
}

/** One header entry, before the data is read. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file (8 + N). */
  dataStart: number;
}

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafetensorsArray;
  new (length: number): SafetensorsArray;
  readonly BYTES_PER_ELEMENT: number;
};

const DTYPES: Readonly<Record<SafetensorsDtype, ArrayCtor>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
  I32: Int32Array,
  U32: Uint32Array,
  I16: Int16Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
} as unknown as Record<SafetensorsDtype, ArrayCtor>;

export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = Object.keys(DTYPES) as SafetensorsDtype[];

/**
 * The reference implementation's dtype order (increasing alignment); the encoder sorts tensors by
 * it, descending, then by name, so that its output is byte-identical to the reference's.
 */
const DTYPE_ORDER: readonly SafetensorsDtype[] = [
  'BOOL',
  'U8',
  'I8',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
];

/** The reference implementation refuses headers above 100 MB; so do we (a corrupt size field). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

export function safetensorsElementSize(dtype: SafetensorsDtype): number {
  return DTYPES[dtype].BYTES_PER_ELEMENT;
}

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

function checkLittleEndian(file: string | undefined): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new DataError('safetensors needs a little-endian machine', file);
  }
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Encode tensors (and optional string metadata) as a safetensors file. */
export function encodeSafetensors(
  tensors: Readonly<Record<string, SafetensorsTensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  checkLittleEndian(undefined);
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name]!;
    const where = `tensor "${name}"`;
    if (name === METADATA_KEY) throw new DataError(`"${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (!isDtype(t.dtype)) {
      throw new DataError(
        `${where}: unknown dtype ${JSON.stringify(t.dtype)} (expected one of ${SAFETENSORS_DTYPES.join(', ')})`,
      );
    }
    if (!isShape(t.shape)) {
      throw new DataError(
        `${where}: shape must be a list of non-negative integers, got ${JSON.stringify(t.shape)}`,
      );
    }
    const ctor = DTYPES[t.dtype];
    if (!(t.data instanceof ctor)) {
      throw new DataError(`${where}: ${t.dtype} data must be a ${ctor.name}, got ${describeArray(t.data)}`);
    }
    const n = elementCount(t.shape);
    if (t.data.length !== n) {
      throw new DataError(
        `${where}: shape [${t.shape.join(', ')}] needs ${n} elements, data has ${t.data.length}`,
      );
    }
    if (t.dtype === 'BOOL') checkBool(t.data as Uint8Array, where, undefined);
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new DataError(`metadata "${k}": values must be strings, got ${typeof v}`);
    }
  }

  // Largest alignment first, then by name: every tensor stays aligned to its element size.
  const rank = (n: string) => DTYPE_ORDER.indexOf(tensors[n]!.dtype);
  const order = [...names].sort((a, b) => rank(b) - rank(a) || (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header[METADATA_KEY] = { ...metadata };
  let offset = 0;
  for (const name of order) {
    const t = tensors[name]!;
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerSize = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerSize + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerSize, true);
  view.setUint32(4, Math.floor(headerSize / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerSize);
  let pos = 8 + headerSize;
  for (const name of order) {
    const d = tensors[name]!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

/** Read and validate the header of a safetensors file (no tensor data is touched). */
export function parseSafetensorsHeader(bytes: Uint8Array, file?: string): SafetensorsHeader {
  const fail = (message: string): never => {
    throw new DataError(message, file);
  };
  if (bytes.length < 8)
    fail(`not a safetensors file: ${bytes.length} bytes, the 8-byte header size is missing`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const size = hi * 2 ** 32 + lo;
  if (size > MAX_HEADER_BYTES)
    fail(`header size ${size} exceeds the limit of ${MAX_HEADER_BYTES} bytes (corrupt file?)`);
  if (8 + size > bytes.length)
    fail(`header size ${size} runs past the end of the file (${bytes.length} bytes)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + size));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{'))
    fail(`header must be a JSON object starting with "{", got ${JSON.stringify(text.slice(0, 20))}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    fail('header must be a JSON object');

  const metadata: Record<string, string> = {};
  const entries: Record<string, SafetensorsEntry> = {};
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        fail(`"${METADATA_KEY}" must be an object of strings`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string')
          fail(`"${METADATA_KEY}"."${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    entries[name] = parseEntry(name, raw, fail);
  }

  // Offsets must tile the data section exactly: sorted by start, each begins where the last ended.
  const dataStart = 8 + size;
  const dataLength = bytes.length - dataStart;
  const sorted = Object.entries(entries).sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let expected = 0;
  for (const [name, e] of sorted) {
    if (e.begin !== expected) {
      fail(
        e.begin > expected
          ? `tensor "${name}": data_offsets start at ${e.begin}, leaving a hole after byte ${expected} of the data section`
          : `tensor "${name}": data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${expected}`,
      );
    }
    if (e.end > dataLength) {
      fail(
        `tensor "${name}": data_offsets [${e.begin}, ${e.end}] run past the data section (${dataLength} bytes)`,
      );
    }
    expected = e.end;
  }
  if (expected !== dataLength) {
    fail(`the data section has ${dataLength} bytes but the tensors cover only ${expected} (trailing bytes)`);
  }
  return { entries, metadata, dataStart };
}

function parseEntry(name: string, raw: unknown, fail: (m: string) => never): SafetensorsEntry {
  const where = `tensor "${name}"`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail(`${where}: header entry must be an object`);
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') {
      fail(`${where}: unknown header key "${key}" (expected dtype, shape, data_offsets)`);
    }
  }
  if (!isDtype(r.dtype)) {
    fail(
      `${where}: unknown dtype ${JSON.stringify(r.dtype)} (expected one of ${SAFETENSORS_DTYPES.join(', ')})`,
    );
  }
  if (!isShape(r.shape))
    fail(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(r.shape)}`);
  const off = r.data_offsets;
  if (
    !Array.isArray(off) ||
    off.length !== 2 ||
    !off.every((x) => Number.isSafeInteger(x) && (x as number) >= 0) ||
    (off[0] as number) > (off[1] as number)
  ) {
    fail(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(off)}`);
  }
  const dtype = r.dtype as SafetensorsDtype;
  const shape = r.shape as number[];
  const [begin, end] = off as [number, number];
  const needed = elementCount(shape) * safetensorsElementSize(dtype);
  if (end - begin !== needed) {
    fail(
      `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} [${shape.join(', ')}] needs ${needed}`,
    );
  }
  return { dtype, shape, begin, end };
}

/**
 * Decode a safetensors file. Tensors view `bytes` directly where they are aligned (keep `bytes`
 * unmodified while they are in use) and are copied otherwise.
 */
export function decodeSafetensors(bytes: Uint8Array, file?: string): SafetensorsFile {
  checkLittleEndian(file);
  const header = parseSafetensorsHeader(bytes, file);
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, e] of Object.entries(header.entries)) {
    tensors[name] = {
      dtype: e.dtype,
      shape: e.shape,
      data: tensorData(bytes, header.dataStart, name, e, file),
    };
  }
  return { tensors, metadata: header.metadata };
}

/** The data of one header entry (a view where aligned, else a copy). */
export function safetensorsData(
  bytes: Uint8Array,
  header: SafetensorsHeader,
  name: string,
  file?: string,
): SafetensorsArray {
  const e = header.entries[name];
  if (!e)
    throw new DataError(
      `no tensor "${name}" (the file has ${Object.keys(header.entries).length} tensors)`,
      file,
    );
  return tensorData(bytes, header.dataStart, name, e, file);
}

function tensorData(
  bytes: Uint8Array,
  dataStart: number,
  name: string,
  e: SafetensorsEntry,
  file: string | undefined,
): SafetensorsArray {
  const ctor = DTYPES[e.dtype];
  const size = ctor.BYTES_PER_ELEMENT;
  const length = (e.end - e.begin) / size;
  const at = bytes.byteOffset + dataStart + e.begin;
  let data: SafetensorsArray;
  if (at % size === 0) {
    data = new ctor(bytes.buffer, at, length);
  } else {
    data = new ctor(length);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
  }
  if (e.dtype === 'BOOL') checkBool(data as Uint8Array, `tensor "${name}"`, file);
  return data;
}

function checkBool(data: Uint8Array, where: string, file: string | undefined): void {
  const bad = data.findIndex((x) => x > 1);
  if (bad >= 0) throw new DataError(`${where}: BOOL element ${bad} is ${data[bad]} (expected 0 or 1)`, file);
}

function describeArray(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
