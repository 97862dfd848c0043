import { expect } from 'chai';
import {
  DataError,
  decodeSafetensors,
  encodeSafetensors,
  parseSafetensorsHeader,
  type SafetensorsTensor,
} from '../src/index.js';

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

/** A file from an 8-byte header size, a header string and data bytes (no padding added). */
function rawFile(header: string, data: number[] = [], size = header.length): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setUint32(0, size, true);
  out.set(ascii(header), 8);
  out.set(data, 8 + header.length);
  return out;
}

function expectDataError(f: () => unknown, ...patterns: RegExp[]): DataError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a DataError').to.be.instanceOf(DataError);
  for (const p of patterns) expect((caught as Error).message).to.match(p);
  return caught as DataError;
}

describe('safetensors', () => {
  describe('byte-exact encoding', () => {
    // Vectors from the reference implementation's own tests (huggingface/safetensors,
    // safetensors/src/tensor.rs: test_serialization, test_empty, test_serialization_forced_alignement).
    it('matches the reference bytes of one F32 tensor', () => {
      const data = new Float32Array([0, 1, 2, 3, 4, 5]);
      const out = encodeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } });
      // prettier-ignore
      expect(Array.from(out)).to.deep.equal([
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
        116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
        58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
        101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
        0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
      ]);
    });
    it('pads the header with spaces to a multiple of 8', () => {
      const data = new Float32Array([0, 1, 2, 3, 4, 5]);
      const out = encodeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } });
      // prettier-ignore
      expect(Array.from(out)).to.deep.equal([
        72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
        121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
        91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
        115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
        32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
        160, 64,
      ]);
    });
    it('matches the reference bytes of empty files, with and without metadata', () => {
      expect(Array.from(encodeSafetensors({}))).to.deep.equal([
        8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32,
      ]);
      // prettier-ignore
      expect(Array.from(encodeSafetensors({}, { framework: 'pt' }))).to.deep.equal([
        40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
        95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
        116, 34, 125, 125, 32, 32, 32, 32, 32,
      ]);
    });
    it('orders mixed dtypes by alignment, then name, and decodes a hand-built file', () => {
      // Built by hand: 193 header bytes + 7 spaces = 200; F64 first, then F32 "a" before I32 "b".
      const header =
        '{"__metadata__":{"format":"pt"},' +
        '"z":{"dtype":"F64","shape":[],"data_offsets":[0,8]},' +
        '"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
        '"b":{"dtype":"I32","shape":[2],"data_offsets":[12,20]}}';
      expect(header.length).to.equal(193);
      const bytes = [
        ...[200, 0, 0, 0, 0, 0, 0, 0],
        ...ascii(header),
        ...[32, 32, 32, 32, 32, 32, 32],
        ...[0, 0, 0, 0, 0, 0, 208, 63], // 0.25 as f64
        ...[0, 0, 192, 63], // 1.5 as f32
        ...[1, 0, 0, 0, 255, 255, 255, 255], // 1, -1 as i32
      ];
      const encoded = encodeSafetensors(
        {
          b: { dtype: 'I32', shape: [2], data: new Int32Array([1, -1]) },
          a: { dtype: 'F32', shape: [1], data: new Float32Array([1.5]) },
          z: { dtype: 'F64', shape: [], data: new Float64Array([0.25]) },
        },
        { format: 'pt' },
      );
      expect(Array.from(encoded)).to.deep.equal(bytes);
      const decoded = decodeSafetensors(new Uint8Array(bytes));
      expect(decoded.metadata).to.deep.equal({ format: 'pt' });
      expect(Array.from(decoded.tensors.z!.data as Float64Array)).to.deep.equal([0.25]);
      expect(decoded.tensors.z!.shape).to.deep.equal([]);
      expect(Array.from(decoded.tensors.a!.data as Float32Array)).to.deep.equal([1.5]);
      expect(Array.from(decoded.tensors.b!.data as Int32Array)).to.deep.equal([1, -1]);
    });
  });

  describe('round trips', () => {
    it('preserves every dtype, shape and value (including NaN bit patterns)', () => {
      const nanBits = new Float32Array(new Uint32Array([0x7fc00001]).buffer)[0]!;
      const tensors: Record<string, SafetensorsTensor> = {
        f64: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -0]) },
        f32: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, -2, Infinity, nanBits]) },
        f16: { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7e00]) },
        bf16: { dtype: 'BF16', shape: [1, 1], data: new Uint16Array([0x3f80]) },
        i64: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 7n]) },
        u64: { dtype: 'U64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
        i32: { dtype: 'I32', shape: [3], data: new Int32Array([-1, 0, 2 ** 31 - 1]) },
        u32: { dtype: 'U32', shape: [1], data: new Uint32Array([2 ** 32 - 1]) },
        i16: { dtype: 'I16', shape: [1], data: new Int16Array([-300]) },
        u16: { dtype: 'U16', shape: [1], data: new Uint16Array([65535]) },
        i8: { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
        u8: { dtype: 'U8', shape: [0], data: new Uint8Array([]) },
        bool: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
      };
      const bytes = encodeSafetensors(tensors, { note: 'ü∂' });
      const back = decodeSafetensors(bytes);
      expect(back.metadata).to.deep.equal({ note: 'ü∂' });
      expect(Object.keys(back.tensors).sort()).to.deep.equal(Object.keys(tensors).sort());
      for (const [name, t] of Object.entries(tensors)) {
        const r = back.tensors[name]!;
        expect(r.dtype, name).to.equal(t.dtype);
        expect(r.shape, name).to.deep.equal(t.shape);
        expect(r.data.constructor, name).to.equal(t.data.constructor);
        const raw = (a: SafetensorsTensor['data']) =>
          Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
        expect(raw(r.data), name).to.deep.equal(raw(t.data));
      }
      expect(Object.is((back.tensors.f64!.data as Float64Array)[1], -0)).to.equal(true);
    });
    it('views aligned data without copying and copies misaligned data', () => {
      const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
      const aligned = decodeSafetensors(bytes);
      expect(aligned.tensors.w!.data.buffer).to.equal(bytes.buffer);
      const shifted = new Uint8Array(bytes.length + 1);
      shifted.set(bytes, 1);
      const view = shifted.subarray(1);
      const copied = decodeSafetensors(view);
      expect(copied.tensors.w!.data.buffer).to.not.equal(shifted.buffer);
      expect(Array.from(copied.tensors.w!.data as Float32Array)).to.deep.equal([1, 2]);
    });
    it('encodes subarray views by their own bytes', () => {
      const big = new Float32Array([9, 1, 2, 9]);
      const back = decodeSafetensors(
        encodeSafetensors({ v: { dtype: 'F32', shape: [2], data: big.subarray(1, 3) } }),
      );
      expect(Array.from(back.tensors.v!.data as Float32Array)).to.deep.equal([1, 2]);
    });
  });

  describe('validation on decode (file and tensor named)', () => {
    const F = 'model.safetensors';
    const entry = (dtype: string, shape: number[], a: number, b: number) =>
      `{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[${a},${b}]}`;

    it('rejects a file shorter than the header size field', () => {
      const e = expectDataError(
        () => decodeSafetensors(new Uint8Array(5), F),
        /model\.safetensors: /,
        /8-byte header size/,
      );
      expect(e.file).to.equal(F);
    });
    it('rejects a header size beyond the file or the 100 MB limit', () => {
      expectDataError(() => decodeSafetensors(rawFile('{}', [], 64), F), /header size 64 runs past the end/);
      const huge = new Uint8Array(16);
      new DataView(huge.buffer).setUint32(4, 1, true);
      expectDataError(() => decodeSafetensors(huge, F), /exceeds the limit/);
    });
    it('rejects headers that are not UTF-8, not JSON, or not an object', () => {
      const bad = rawFile('{"a":1}');
      bad[10] = 0xff;
      expectDataError(() => decodeSafetensors(bad, F), /not valid UTF-8/);
      expectDataError(() => decodeSafetensors(rawFile('{"a":'), F), /not valid JSON/);
      expectDataError(() => decodeSafetensors(rawFile('[1,2]   '), F), /starting with "\{"/);
      expectDataError(() => decodeSafetensors(rawFile(' {}'), F), /starting with "\{"/);
    });
    it('rejects bad metadata', () => {
      expectDataError(
        () => decodeSafetensors(rawFile('{"__metadata__":{"k":1}}'), F),
        /"__metadata__"\."k" must be a string/,
      );
      expectDataError(
        () => decodeSafetensors(rawFile('{"__metadata__":[]}'), F),
        /must be an object of strings/,
      );
    });
    it('rejects malformed entries, naming the tensor', () => {
      expectDataError(
        () => decodeSafetensors(rawFile('{"w":3}'), F),
        /tensor "w": header entry must be an object/,
      );
      expectDataError(
        () => decodeSafetensors(rawFile(`{"w":${entry('F8', [1], 0, 1)}}`, [0]), F),
        /tensor "w": unknown dtype "F8"/,
      );
      expectDataError(
        () => decodeSafetensors(rawFile(`{"w":${entry('F32', [-1], 0, 4)}}`, [0, 0, 0, 0]), F),
        /tensor "w": shape must be a list of non-negative integers/,
      );
      expectDataError(
        () => decodeSafetensors(rawFile('{"w":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}', [0]), F),
        /tensor "w": data_offsets must be \[begin, end\]/,
      );
      expectDataError(
        () =>
          decodeSafetensors(rawFile('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}', [0]), F),
        /tensor "w": unknown header key "x"/,
      );
    });
    it('rejects a dtype/shape/byte-size disagreement', () => {
      expectDataError(
        () => decodeSafetensors(rawFile(`{"w":${entry('F32', [2, 2], 0, 8)}}`, new Array(8).fill(0)), F),
        /model\.safetensors: tensor "w": data_offsets \[0, 8\] hold 8 bytes, but F32 \[2, 2\] needs 16/,
      );
    });
    it('rejects holes, overlaps, out-of-bounds offsets and trailing bytes', () => {
      const two = (a: [number, number], b: [number, number]) =>
        `{"a":${entry('U8', [a[1] - a[0]], ...a)},"b":${entry('U8', [b[1] - b[0]], ...b)}}`;
      expectDataError(
        () => decodeSafetensors(rawFile(two([0, 2], [3, 4]), [0, 0, 0, 0]), F),
        /tensor "b": .*hole after byte 2/,
      );
      expectDataError(
        () => decodeSafetensors(rawFile(two([0, 2], [1, 3]), [0, 0, 0]), F),
        /tensor "b": .*overlap/,
      );
      expectDataError(
        () => decodeSafetensors(rawFile(two([2, 4], [0, 2]), [0, 0, 0]), F),
        /tensor "a": .*run past the data section \(3 bytes\)/,
      );
      expectDataError(
        () => decodeSafetensors(rawFile(two([0, 2], [2, 4]), [0, 0, 0, 0, 0]), F),
        /trailing bytes/,
      );
      expectDataError(
        () => decodeSafetensors(rawFile(`{"a":${entry('U8', [1], 1, 2)}}`, [0, 0]), F),
        /tensor "a": data_offsets start at 1/,
      );
    });
    it('rejects BOOL bytes other than 0 and 1', () => {
      expectDataError(
        () => decodeSafetensors(rawFile(`{"m":${entry('BOOL', [2], 0, 2)}}`, [1, 2]), F),
        /tensor "m": BOOL element 1 is 2/,
      );
    });
    it('parses the header alone without reading data', () => {
      const bytes = encodeSafetensors(
        { w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } },
        { a: 'b' },
      );
      const h = parseSafetensorsHeader(bytes);
      expect(h.entries.w).to.deep.equal({ dtype: 'F32', shape: [2], begin: 0, end: 8 });
      expect(h.metadata).to.deep.equal({ a: 'b' });
      expect(h.dataStart).to.equal(bytes.length - 8);
    });
  });

  describe('validation on encode', () => {
    it('rejects data of the wrong array type, a size mismatch, bad shapes and bad names', () => {
      expectDataError(
        () => encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float64Array([1]) as never } }),
        /tensor "w": F32 data must be a Float32Array, got Float64Array/,
      );
      expectDataError(
        () => encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }),
        /tensor "w": shape \[3\] needs 3 elements, data has 2/,
      );
      expectDataError(
        () => encodeSafetensors({ w: { dtype: 'F32', shape: [1.5], data: new Float32Array(1) } }),
        /tensor "w": shape must be/,
      );
      expectDataError(
        () => encodeSafetensors({ w: { dtype: 'F17' as never, shape: [1], data: new Float32Array(1) } }),
        /unknown dtype "F17"/,
      );
      expectDataError(
        () => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }),
        /reserved/,
      );
      expectDataError(
        () => encodeSafetensors({ m: { dtype: 'BOOL', shape: [1], data: new Uint8Array([3]) } }),
        /BOOL element 0 is 3/,
      );
      expectDataError(() => encodeSafetensors({}, { k: 1 as never }), /metadata "k": values must be strings/);
    });
  });
});
