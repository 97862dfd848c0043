/**
 * Load a Hugging Face checkpoint directory (config.json + model.safetensors + tokenizer.json, as
 * `save_pretrained` writes them) into an HfEncoder.
 */
import { access, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import {
  ConfigError,
  DataError,
  decodeText,
  type SafetensorsFile,
  type SafetensorsTensor,
  decodeSafetensors,
} from '@peftkit/api';
import { type HfConfig, parseHfConfig } from './config.js';
import { type EncoderOptions, HEADS, type HeadChoice, HfEncoder, POOLINGS, type Pooling } from './encoder.js';
import { headPooling } from './head.js';
import { HfTokenizer, parseHfTokenizer, typeIdModeOf } from './tokenizer.js';
import { loadWeights } from './weights.js';
import { resolveHubModel } from './hub.js';

export interface HfBackboneOptions {
  /** Checkpoint directory (relative paths are resolved against `baseDir`); or `model`. */
  path?: string;
  /** A hub id (`org/name`) resolved from the Hugging Face cache (hub.ts); or `path`. */
  model?: string;
  /** With `model`: a branch, tag or commit hash (default main). */
  revision?: string;
  pooling?: Pooling;
  head?: HeadChoice;
  maxLength?: number;
  dropout?: number;
  /** Directory that a relative `path` is relative to (default: the working directory). */
  baseDir?: string;
  /** Progress lines of a hub download. */
  log?: (line: string) => void;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

async function readRequired(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(
      code === 'ENOENT'
        ? `missing file: a checkpoint directory needs ${what}`
        : `cannot read: ${(e as Error).message}`,
      file,
    );
  }
}

/** model.safetensors, or the shards listed in model.safetensors.index.json. */
async function readCheckpointTensors(dir: string): Promise<{ file: string; st: SafetensorsFile }> {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  if (!(await exists(single)) && (await exists(index))) {
    let map: Record<string, string>;
    try {
      const text = decodeText(await readFile(index), index, 'safetensors index').text;
      map = (JSON.parse(text) as { weight_map: Record<string, string> }).weight_map;
      if (typeof map !== 'object' || map === null || Array.isArray(map))
        throw new Error('no "weight_map" object');
    } catch (e) {
      throw new DataError(`not a safetensors index: ${(e as Error).message}`, index);
    }
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const [tensor, shard] of Object.entries(map)) {
      // A shard is a file of this checkpoint directory: an index must not reach files elsewhere.
      const rel = typeof shard === 'string' ? relative(dir, resolve(dir, shard)) : '..';
      if (
        typeof shard !== 'string' ||
        shard === '' ||
        rel === '' ||
        rel.startsWith('..') ||
        isAbsolute(rel)
      ) {
        throw new DataError(
          `weight_map["${tensor}"] is ${JSON.stringify(shard)}; expected the name of a shard file inside the checkpoint directory`,
          index,
        );
      }
    }
    for (const shard of [...new Set(Object.values(map))].sort()) {
      const file = join(dir, shard);
      const st = decodeSafetensors(await readRequired(file, `the shard ${shard} listed in ${index}`), file);
      Object.assign(tensors, st.tensors);
    }
    return { file: index, st: { tensors, metadata: {} } };
  }
  if (!(await exists(single)) && (await exists(join(dir, 'pytorch_model.bin')))) {
    throw new DataError(
      'missing file: only safetensors weights are supported, and this directory has pytorch_model.bin; ' +
        'convert it with transformers: AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)',
      single,
    );
  }
  return { file: single, st: decodeSafetensors(await readRequired(single, 'model.safetensors'), single) };
}

function resolveOptions(o: HfBackboneOptions, cfg: HfConfig, configFile: string): EncoderOptions {
  // The transformers head reads one pooling; an explicit other pooling means peftkit's linear head.
  const head = o.head ?? (o.pooling === undefined || o.pooling === headPooling(cfg) ? 'hf' : 'linear');
  if (!HEADS.includes(head)) {
    throw new ConfigError(
      `expected one of ${HEADS.join(', ')}, found ${JSON.stringify(head)}`,
      undefined,
      'head',
    );
  }
  const pooling = o.pooling ?? (head === 'hf' ? headPooling(cfg) : 'cls');
  if (!POOLINGS.includes(pooling)) {
    throw new ConfigError(
      `expected one of ${POOLINGS.join(', ')}, found ${JSON.stringify(pooling)}`,
      undefined,
      'pooling',
    );
  }
  if (head === 'hf' && pooling !== headPooling(cfg)) {
    throw new ConfigError(
      `the ${cfg.modelType} classification head of transformers reads the "${headPooling(cfg)}" pooling, not "${pooling}"`,
      undefined,
      'pooling',
      `drop pooling, or set head: linear to use peftkit's linear head over "${pooling}"`,
    );
  }
  if (pooling === 'pooler' && (cfg.modelType === 'distilbert' || cfg.modelType === 'electra')) {
    throw new ConfigError(`${cfg.modelType} has no pooler layer; use "cls" or "mean"`, configFile, 'pooling');
  }
  const limit = cfg.maxPositions - cfg.positionOffset;
  const maxLength = o.maxLength ?? Math.min(128, limit);
  if (!Number.isInteger(maxLength) || maxLength < 3 || maxLength > limit) {
    throw new ConfigError(
      `expected an integer in [3, ${limit}] (max_position_embeddings ${cfg.maxPositions} of ${configFile}` +
        `${cfg.positionOffset ? ` less the position offset ${cfg.positionOffset}` : ''}), found ${maxLength}`,
      undefined,
      'maxLength',
    );
  }
  const dropout = o.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new ConfigError(`expected a probability in [0, 1), found ${dropout}`, undefined, 'dropout');
  }
  return { pooling, head, maxLength, dropout };
}

export async function loadHfBackbone(options: HfBackboneOptions): Promise<HfEncoder> {
  if ((options.path === undefined) === (options.model === undefined))
    throw new ConfigError(
      'expected exactly one of path (a checkpoint directory) and model (a hub id)',
      undefined,
      options.path === undefined ? 'path' : 'model',
    );
  if (options.revision !== undefined && options.model === undefined)
    throw new ConfigError('revision goes with model (a hub id)', undefined, 'revision');
  if (options.path !== undefined && (typeof options.path !== 'string' || options.path === ''))
    throw new ConfigError('expected the checkpoint directory', undefined, 'path');
  const dir =
    options.model !== undefined
      ? await resolveHubModel(options.model, options.revision, { log: options.log })
      : resolve(options.baseDir ?? process.cwd(), options.path!);
  if (!(await exists(dir)))
    throw new ConfigError(`checkpoint directory not found: ${dir}`, undefined, 'path');

  const configFile = join(dir, 'config.json');
  const cfg = parseHfConfig(
    decodeText(await readRequired(configFile, 'config.json'), configFile, 'config.json').text,
    configFile,
  );
  const encoderOptions = resolveOptions(options, cfg, configFile);

  const tokenizerFile = join(dir, 'tokenizer.json');
  const tokenizerJson = decodeText(
    await readRequired(tokenizerFile, 'tokenizer.json'),
    tokenizerFile,
    'tokenizer.json',
  ).text;
  const tokenizerConfigFile = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = (await exists(tokenizerConfigFile))
    ? decodeText(await readFile(tokenizerConfigFile), tokenizerConfigFile, 'tokenizer_config.json').text
    : null;
  const impl = parseHfTokenizer(tokenizerJson, tokenizerConfig, tokenizerFile);
  const limit = cfg.maxPositions - cfg.positionOffset;
  const tokenizer = new HfTokenizer(impl, cfg.padTokenId, encoderOptions.maxLength, limit, typeIdModeOf(cfg));
  if (tokenizer.vocabSize !== cfg.vocabSize) {
    throw new DataError(
      `the tokenizer has ${tokenizer.vocabSize} tokens but config.json says vocab_size = ${cfg.vocabSize}; ` +
        'the tokenizer and the model must come from the same checkpoint',
      tokenizerFile,
    );
  }

  const { file: weightsFile, st } = await readCheckpointTensors(dir);
  const loaded = loadWeights(st, cfg, weightsFile);
  if (encoderOptions.pooling === 'pooler' && !loaded.hasPooler) {
    throw new DataError(
      `pooling "pooler" needs the weights ${loaded.prefix}pooler.dense.weight/bias, which this checkpoint ` +
        'does not have (task-model checkpoints of RoBERTa omit the pooler); ' +
        (encoderOptions.head === 'hf'
          ? "BertForSequenceClassification's head reads it: set head: linear (with pooling cls or mean)"
          : 'use "cls" or "mean"'),
      weightsFile,
    );
  }

  const notes: string[] = [
    `${cfg.modelType} encoder from ${dir}: ${cfg.numLayers} layers, hidden ${cfg.hiddenSize}, ` +
      `${cfg.numHeads} heads, FFN ${cfg.intermediateSize} (${cfg.activationName}), ${encoderOptions.pooling} pooling, ` +
      (encoderOptions.head === 'hf'
        ? `the ${cfg.modelType} classification head of transformers`
        : 'linear head'),
  ];
  if (loaded.ignored.length > 0) {
    notes.push(
      `ignored tensors that are not part of the encoder (task heads, buffers): ${loaded.ignored.join(', ')}`,
    );
  }
  if (loaded.hasPooler && encoderOptions.pooling !== 'pooler') {
    notes.push("the checkpoint's pooler (pooler.dense) is loaded but unused with this pooling");
  }
  for (const [dtype, count] of loaded.converted) {
    const how = dtype === 'F64' ? 'rounded' : 'exactly, every half value is a float32 value';
    notes.push(`${count} ${dtype} tensors were converted to float32 (${how}), the dtype the graphs use`);
  }
  // transformers loads a hub id from the same cache, so exports name the model by it.
  const source = options.model ?? dir;
  return new HfEncoder(
    cfg,
    loaded.byPoint,
    tokenizer,
    encoderOptions,
    notes.join('; '),
    loaded.head,
    source,
    dir,
  );
}
