/** Element types and host tensors (constants, initializers, feeds). */

export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export type TypedArray =
  Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

export interface TensorData {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TypedArray;
}

export const FLOAT_TYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16']);

export function isFloat(t: DType): boolean {
  return FLOAT_TYPES.has(t);
}

export function bytesPerElement(t: DType): number {
  switch (t) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'float16':
      return 2;
    default:
      return 1;
  }
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Build a tensor from plain numbers, converting to the typed array of `dtype`. */
export function tensor(
  dtype: DType,
  shape: readonly number[],
  values: ArrayLike<number> | TypedArray,
): TensorData {
  const n = sizeOf(shape);
  if (values.length !== n) {
    throw new Error(`tensor of shape [${shape.join(', ')}] needs ${n} values, got ${values.length}`);
  }
  let data: TypedArray;
  switch (dtype) {
    case 'float32':
      data = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
      break;
    case 'float64':
      data = values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>);
      break;
    case 'int64':
      data =
        values instanceof BigInt64Array
          ? values
          : BigInt64Array.from(Array.from(values as ArrayLike<number>, (v) => BigInt(Math.trunc(v))));
      break;
    case 'int32':
      data = values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
      break;
    case 'int8':
      data = values instanceof Int8Array ? values : Int8Array.from(values as ArrayLike<number>);
      break;
    case 'uint8':
    case 'bool':
      data = values instanceof Uint8Array ? values : Uint8Array.from(values as ArrayLike<number>);
      break;
    case 'float16':
      if (!(values instanceof Uint16Array)) throw new Error('float16 tensors take raw Uint16Array bits');
      data = values;
      break;
  }
  return { dtype, shape: [...shape], data };
}

/** Read element `i` of a tensor as a JS number (bigints are converted). */
export function elementAt(t: TensorData, i: number): number {
  const v = t.data[i];
  return typeof v === 'bigint' ? Number(v) : (v as number);
}
