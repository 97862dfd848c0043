/**
 * Turning examples into program feeds: tokenise once, then pad each batch to its longest sequence.
 */
import type { Example, Tokenizer } from '@peftkit/api';
import type { TensorData } from '@peftkit/graph';
import type { ProgramLayout } from './program.js';

/** An example's token ids, computed once per run and split. */
export interface EncodedExample {
  ids: Int32Array;
  typeIds?: Int32Array;
  /** Second side of a separately encoded pair. */
  idsB?: Int32Array;
  label: number;
}

export function encodeExamples(
  tokenizer: Tokenizer,
  examples: readonly Example[],
  pairEncoding: ProgramLayout['pairInputs'],
  maxLength: number,
): EncodedExample[] {
  return examples.map((e) => {
    if (pairEncoding === 'joint') {
      const enc = tokenizer.encode(e.text, e.pair ?? '', maxLength);
      return {
        ids: Int32Array.from(enc.ids),
        typeIds: Int32Array.from(enc.typeIds ?? enc.ids.map(() => 0)),
        label: e.label,
      };
    }
    const a = tokenizer.encode(e.text, undefined, maxLength);
    if (pairEncoding === 'separate') {
      const b = tokenizer.encode(e.pair ?? '', undefined, maxLength);
      return { ids: Int32Array.from(a.ids), idsB: Int32Array.from(b.ids), label: e.label };
    }
    return { ids: Int32Array.from(a.ids), label: e.label };
  });
}

/**
 * Feeds for one batch: ids/mask (and pair inputs) padded to the longest sequence of the batch, and
 * labels when `withLabels`.
 */
export function batchFeeds(
  examples: readonly EncodedExample[],
  indices: readonly number[],
  layout: ProgramLayout,
  padId: number,
  withLabels: boolean,
): Record<string, TensorData> {
  const B = indices.length;
  let T = 1;
  for (const i of indices) {
    const e = examples[i]!;
    T = Math.max(T, e.ids.length, e.idsB?.length ?? 0);
  }
  const fill = (get: (e: EncodedExample) => Int32Array | undefined, pad: number) => {
    const ids = new BigInt64Array(B * T).fill(BigInt(pad));
    const mask = new Float32Array(B * T);
    indices.forEach((ix, b) => {
      const seq = get(examples[ix]!)!;
      for (let t = 0; t < seq.length; t++) {
        ids[b * T + t] = BigInt(seq[t]!);
        mask[b * T + t] = 1;
      }
    });
    return { ids, mask };
  };
  const feeds: Record<string, TensorData> = {};
  const a = fill((e) => e.ids, padId);
  feeds.input_ids = { dtype: 'int64', shape: [B, T], data: a.ids };
  feeds.attention_mask = { dtype: 'float32', shape: [B, T], data: a.mask };
  if (layout.pairInputs === 'joint') {
    feeds.token_type_ids = { dtype: 'int64', shape: [B, T], data: fill((e) => e.typeIds, 0).ids };
  } else if (layout.pairInputs === 'separate') {
    const b = fill((e) => e.idsB, padId);
    feeds.input_ids_b = { dtype: 'int64', shape: [B, T], data: b.ids };
    feeds.attention_mask_b = { dtype: 'float32', shape: [B, T], data: b.mask };
  }
  if (withLabels) {
    feeds.labels =
      layout.labelType === 'int64'
        ? { dtype: 'int64', shape: [B], data: BigInt64Array.from(indices, (i) => BigInt(examples[i]!.label)) }
        : { dtype: 'float32', shape: [B], data: Float32Array.from(indices, (i) => examples[i]!.label) };
  }
  return feeds;
}

/** Parameter feeds in the program's declared shapes. */
export function paramFeeds(
  layout: ProgramLayout,
  params: Readonly<Record<string, Float32Array>>,
): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const p of layout.params) {
    const data = params[p.name];
    if (!data) throw new Error(`missing parameter ${p.name}`);
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n)
      throw new Error(
        `parameter ${p.name} has ${data.length} values, the program expects [${p.shape.join(', ')}]`,
      );
    feeds[p.name] = { dtype: 'float32', shape: p.shape, data };
  }
  return feeds;
}

/** Token count of an encoded example (both sides of a separately encoded pair). */
export function exampleLength(e: EncodedExample): number {
  return Math.max(e.ids.length, e.idsB?.length ?? 0);
}

/** Token count of each example (what `groupByLength` groups batches by). */
export function exampleLengths(examples: readonly EncodedExample[]): Int32Array {
  return Int32Array.from(examples, exampleLength);
}
