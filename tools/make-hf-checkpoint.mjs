#!/usr/bin/env node
/**
 * Write a small RANDOM checkpoint in exactly the Hugging Face format, for tests and for trying the
 * `hf` backbone without a download: the files `save_pretrained` writes for a BertModel /
 * RobertaModel / DistilBertModel and its fast tokenizer.
 *
 *   node tools/make-hf-checkpoint.mjs --type bert --out /tmp/tiny-bert
 *       [--layers 2] [--hidden 32] [--heads 4] [--intermediate 4*hidden] [--positions 64]
 *       [--act gelu] [--dtype F32|F16|BF16] [--task-head] [--seed 1] [--std 1/sqrt(hidden)]
 *
 * - config.json: the fields transformers writes for the model type.
 * - model.safetensors: the transformers weight names and PyTorch [out, in] linear layouts;
 *   with --task-head, the names of a *ForSequenceClassification model (`bert.` prefix and a
 *   classifier head) instead.
 * - tokenizer.json: a real WordPiece (BERT, DistilBERT: BertNormalizer lower-casing,
 *   BertPreTokenizer, [CLS]/[SEP] template) or byte-level BPE (RoBERTa: 256 byte symbols plus
 *   merges learned from a built-in paragraph, RobertaProcessing) tokenizer with a small vocabulary
 *   built from the words of that paragraph; plus tokenizer_config.json and special_tokens_map.json.
 *
 * The weights are random (seeded), so the model means nothing; it exercises the format and the
 * architecture. Needs the workspace built (`npx tsc -b`): it writes safetensors with @peftkit/api.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors } from '@peftkit/api';

/** The text the vocabularies are built from. */
export const CORPUS = `
The river rose slowly after three days of rain, and the old bridge near the mill was closed.
Farmers moved their sheep to higher fields while children watched the water from the hill.
By Thursday the sun returned; the roads dried, the market opened again, and people talked about
the storm for weeks. Some said it was the worst flood in forty years, others remembered worse.
A good bread needs flour, water, salt and time: mix, wait, fold, wait again, then bake it hot.
She wasn't sure the train would leave on time, but it did, at 7:45, exactly as printed.
Reading quickly is useful; reading carefully is better. Questions are often more helpful than answers!
`;

const SPECIALS_WORDPIECE = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

// ---------------------------------------------------------------------------------------------
// Random numbers (seeded)

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normalSampler(seed) {
  const u = mulberry32(seed);
  return () => {
    const a = Math.max(u(), 1e-12);
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
  };
}

// ---------------------------------------------------------------------------------------------
// Tokenizers

function addedToken(id, content, extra = {}) {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
    ...extra,
  };
}

/** WordPiece vocabulary: specials, characters (initial and ## continuation), words, suffixes. */
function wordPieceTokenizer() {
  const text = CORPUS.toLowerCase();
  const words = text.match(/[a-z0-9]+|[^\sa-z0-9]/g) ?? [];
  const chars = [...new Set([...text.replace(/\s/g, '')])].sort();
  const vocab = [...SPECIALS_WORDPIECE];
  const add = (t) => {
    if (!vocab.includes(t)) vocab.push(t);
  };
  for (const c of chars) add(c);
  for (const c of chars) if (/[a-z0-9]/.test(c)) add(`##${c}`);
  for (const w of [...new Set(words)].sort()) if (w.length > 1) add(w);
  for (const s of ['##s', '##ed', '##ing', '##ly', '##er', '##est', '##ful']) add(s);
  const ids = Object.fromEntries(vocab.map((t, i) => [t, i]));
  const special = (t, typeId) => ({ SpecialToken: { id: t, type_id: typeId } });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS_WORDPIECE.map((t) => addedToken(ids[t], t)),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]', 0)],
      pair: [
        special('[CLS]', 0),
        { Sequence: { id: 'A', type_id: 0 } },
        special('[SEP]', 0),
        { Sequence: { id: 'B', type_id: 1 } },
        special('[SEP]', 1),
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [ids['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [ids['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: ids,
    },
  };
  return {
    json,
    vocabSize: vocab.length,
    padId: ids['[PAD]'],
    extraFiles: {
      'vocab.txt': vocab.join('\n') + '\n',
      'tokenizer_config.json': {
        do_lower_case: true,
        model_max_length: 512,
        tokenizer_class: 'BertTokenizer',
        cls_token: '[CLS]',
        sep_token: '[SEP]',
        pad_token: '[PAD]',
        unk_token: '[UNK]',
        mask_token: '[MASK]',
      },
      'special_tokens_map.json': {
        cls_token: '[CLS]',
        mask_token: '[MASK]',
        pad_token: '[PAD]',
        sep_token: '[SEP]',
        unk_token: '[UNK]',
      },
    },
  };
}

/** GPT-2's reversible byte -> printable character map (bytes_to_unicode). */
function bytesToUnicode() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map = new Map();
  bs.forEach((b, i) => map.set(b, String.fromCodePoint(cs[i])));
  return map;
}

const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Byte-level BPE: the 256 byte symbols plus `numMerges` merges learned from the corpus. */
function byteLevelBpeTokenizer(numMerges = 160) {
  const byteMap = bytesToUnicode();
  const encoder = new TextEncoder();
  const counts = new Map();
  for (const piece of CORPUS.trim().replace(/\s+/g, ' ').match(GPT2_SPLIT) ?? []) {
    const w = [...encoder.encode(piece)].map((b) => byteMap.get(b)).join('');
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const words = [...counts].map(([w, c]) => ({ syms: [...w], count: c }));
  const specials = ['<s>', '<pad>', '</s>', '<unk>'];
  const vocab = [...specials, ...[...Array(256).keys()].map((b) => byteMap.get(b))];
  const merges = [];
  for (let m = 0; m < numMerges; m++) {
    const pairs = new Map();
    for (const { syms, count } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(k, (pairs.get(k) ?? 0) + count);
      }
    }
    let best = null;
    let bestCount = 1;
    for (const [k, c] of [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (c > bestCount) [best, bestCount] = [k, c];
    }
    if (best === null) break;
    const [l, r] = best.split(' ');
    merges.push(best);
    if (!vocab.includes(l + r)) vocab.push(l + r);
    for (const w of words) {
      const out = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === l && w.syms[i + 1] === r) {
          out.push(l + r);
          i++;
        } else out.push(w.syms[i]);
      }
      w.syms = out;
    }
  }
  vocab.push('<mask>');
  const ids = Object.fromEntries(vocab.map((t, i) => [t, i]));
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      ...specials.map((t) => addedToken(ids[t], t)),
      addedToken(ids['<mask>'], '<mask>', { lstrip: true }),
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['</s>', ids['</s>']],
      cls: ['<s>', ids['<s>']],
      trim_offsets: true,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: ids,
      merges,
    },
  };
  return {
    json,
    vocabSize: vocab.length,
    padId: ids['<pad>'],
    extraFiles: {
      'vocab.json': ids,
      'merges.txt': ['#version: 0.2', ...merges].join('\n') + '\n',
      'tokenizer_config.json': {
        add_prefix_space: false,
        model_max_length: 512,
        tokenizer_class: 'RobertaTokenizer',
        bos_token: '<s>',
        eos_token: '</s>',
        sep_token: '</s>',
        cls_token: '<s>',
        unk_token: '<unk>',
        pad_token: '<pad>',
        mask_token: '<mask>',
      },
      'special_tokens_map.json': {
        bos_token: '<s>',
        cls_token: '<s>',
        eos_token: '</s>',
        mask_token: '<mask>',
        pad_token: '<pad>',
        sep_token: '</s>',
        unk_token: '<unk>',
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Weights

function floatToHalfBits(v) {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

function floatToBf16Bits(v) {
  const x = new Uint32Array(new Float32Array([v]).buffer)[0];
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function storeAs(dtype, values) {
  if (dtype === 'F32') return { dtype, data: Float32Array.from(values) };
  const conv = dtype === 'F16' ? floatToHalfBits : floatToBf16Bits;
  return { dtype, data: Uint16Array.from(values, conv) };
}

/** The base-model weight names and PyTorch shapes, as transformers writes them. */
function weightLayout(type, c) {
  const H = c.hidden;
  const I = c.intermediate;
  const w = [];
  const linear = (name, inF, outF) =>
    w.push([`${name}.weight`, [outF, inF], 'matrix'], [`${name}.bias`, [outF], 'bias']);
  const norm = (name) => w.push([`${name}.weight`, [H], 'gamma'], [`${name}.bias`, [H], 'bias']);
  w.push(['embeddings.word_embeddings.weight', [c.vocabSize, H], 'embedding']);
  w.push(['embeddings.position_embeddings.weight', [c.positions, H], 'embedding']);
  if (type !== 'distilbert')
    w.push(['embeddings.token_type_embeddings.weight', [c.typeVocab, H], 'embedding']);
  norm('embeddings.LayerNorm');
  for (let i = 0; i < c.layers; i++) {
    if (type === 'distilbert') {
      const l = `transformer.layer.${i}`;
      for (const n of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) linear(`${l}.attention.${n}`, H, H);
      norm(`${l}.sa_layer_norm`);
      linear(`${l}.ffn.lin1`, H, I);
      linear(`${l}.ffn.lin2`, I, H);
      norm(`${l}.output_layer_norm`);
    } else {
      const l = `encoder.layer.${i}`;
      for (const n of ['query', 'key', 'value']) linear(`${l}.attention.self.${n}`, H, H);
      linear(`${l}.attention.output.dense`, H, H);
      norm(`${l}.attention.output.LayerNorm`);
      linear(`${l}.intermediate.dense`, H, I);
      linear(`${l}.output.dense`, I, H);
      norm(`${l}.output.LayerNorm`);
    }
  }
  if (type !== 'distilbert') linear('pooler.dense', H, H);
  return w;
}

function configJson(type, c, act, taskHead) {
  const arch = { bert: 'Bert', roberta: 'Roberta', distilbert: 'DistilBert' }[type];
  const common = { architectures: [`${arch}${taskHead ? 'ForSequenceClassification' : 'Model'}`] };
  if (type === 'distilbert') {
    return {
      activation: act,
      ...common,
      attention_dropout: 0.1,
      dim: c.hidden,
      dropout: 0.1,
      hidden_dim: c.intermediate,
      initializer_range: 0.02,
      max_position_embeddings: c.positions,
      model_type: 'distilbert',
      n_heads: c.heads,
      n_layers: c.layers,
      pad_token_id: c.padId,
      qa_dropout: 0.1,
      seq_classif_dropout: 0.2,
      sinusoidal_pos_embds: false,
      tie_weights_: true,
      torch_dtype: 'float32',
      transformers_version: '4.44.2',
      vocab_size: c.vocabSize,
    };
  }
  return {
    ...common,
    attention_probs_dropout_prob: 0.1,
    ...(type === 'roberta' ? { bos_token_id: 0 } : {}),
    classifier_dropout: null,
    ...(type === 'roberta' ? { eos_token_id: 2 } : {}),
    hidden_act: act,
    hidden_dropout_prob: 0.1,
    hidden_size: c.hidden,
    initializer_range: 0.02,
    intermediate_size: c.intermediate,
    layer_norm_eps: type === 'roberta' ? 1e-5 : 1e-12,
    max_position_embeddings: c.positions,
    model_type: type,
    num_attention_heads: c.heads,
    num_hidden_layers: c.layers,
    pad_token_id: c.padId,
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
    transformers_version: '4.44.2',
    type_vocab_size: c.typeVocab,
    use_cache: true,
    vocab_size: c.vocabSize,
  };
}

/**
 * Write a checkpoint directory. Returns the directory and the configuration written.
 * Options: type ('bert' | 'roberta' | 'distilbert'), out, layers, hidden, heads, intermediate,
 * positions (usable positions; RoBERTa adds its offset of pad + 1), act, dtype, taskHead, seed, std.
 */
export function makeHfCheckpoint(opts) {
  const type = opts.type;
  if (!['bert', 'roberta', 'distilbert'].includes(type)) {
    throw new Error(`--type must be bert, roberta or distilbert, got ${JSON.stringify(type)}`);
  }
  if (!opts.out) throw new Error('--out DIR is required');
  const hidden = Number(opts.hidden ?? 32);
  const heads = Number(opts.heads ?? 4);
  if (hidden % heads !== 0) throw new Error(`--heads ${heads} must divide --hidden ${hidden}`);
  const dtype = opts.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16'].includes(dtype))
    throw new Error(`--dtype must be F32, F16 or BF16, got ${dtype}`);
  const tok = type === 'roberta' ? byteLevelBpeTokenizer() : wordPieceTokenizer();
  const usable = Number(opts.positions ?? 64);
  const c = {
    hidden,
    heads,
    layers: Number(opts.layers ?? 2),
    intermediate: Number(opts.intermediate ?? 4 * hidden),
    vocabSize: tok.vocabSize,
    padId: tok.padId,
    positions: type === 'roberta' ? usable + tok.padId + 1 : usable,
    typeVocab: type === 'roberta' ? 1 : 2,
  };
  const act = opts.act ?? 'gelu';
  const taskHead = Boolean(opts.taskHead);
  // Gain ~1 per linear layer at any width, so deep wide models stay well-conditioned in float32.
  const std = Number(opts.std ?? 1 / Math.sqrt(hidden));
  const randn = normalSampler(Number(opts.seed ?? 1));

  const tensors = {};
  const prefix = taskHead ? `${type}.` : '';
  for (const [name, shape, role] of weightLayout(type, c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => {
      const z = randn();
      if (role === 'embedding') return z;
      if (role === 'gamma') return 1 + 0.1 * z;
      if (role === 'bias') return 0.1 * z;
      return std * z;
    });
    tensors[prefix + name] = { shape, ...storeAs(dtype, values) };
  }
  if (taskHead) {
    // The classification heads transformers adds (2 labels); the hf backbone must skip them.
    const H = c.hidden;
    const head = (name, shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors[name] = {
        shape,
        ...storeAs(
          dtype,
          Array.from({ length: n }, () => 0.1 * randn()),
        ),
      };
    };
    if (type === 'bert') {
      head('classifier.weight', [2, H]);
      head('classifier.bias', [2]);
    } else if (type === 'roberta') {
      // RobertaForSequenceClassification has no pooler.
      for (const k of Object.keys(tensors)) if (k.startsWith('roberta.pooler.')) delete tensors[k];
      head('classifier.dense.weight', [H, H]);
      head('classifier.dense.bias', [H]);
      head('classifier.out_proj.weight', [2, H]);
      head('classifier.out_proj.bias', [2]);
    } else {
      head('pre_classifier.weight', [H, H]);
      head('pre_classifier.bias', [H]);
      head('classifier.weight', [2, H]);
      head('classifier.bias', [2]);
    }
  }

  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  const writeJson = (file, obj) => writeFileSync(join(out, file), JSON.stringify(obj, null, 2) + '\n');
  writeJson('config.json', configJson(type, c, act, taskHead));
  writeFileSync(join(out, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  writeJson('tokenizer.json', tok.json);
  for (const [file, content] of Object.entries(tok.extraFiles)) {
    if (typeof content === 'string') writeFileSync(join(out, file), content);
    else writeJson(file, content);
  }
  return { dir: out, type, ...c, act, dtype, taskHead };
}

function parseArgs(argv) {
  const opts = {};
  const keys = {
    '--type': 'type',
    '--out': 'out',
    '--layers': 'layers',
    '--hidden': 'hidden',
    '--heads': 'heads',
    '--intermediate': 'intermediate',
    '--positions': 'positions',
    '--act': 'act',
    '--dtype': 'dtype',
    '--seed': 'seed',
    '--std': 'std',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--task-head') opts.taskHead = true;
    else if (keys[a] && i + 1 < argv.length) opts[keys[a]] = argv[++i];
    else throw new Error(`unknown or incomplete argument ${a}`);
  }
  return opts;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const info = makeHfCheckpoint(parseArgs(process.argv.slice(2)));
    console.log(
      `wrote ${info.type} checkpoint to ${info.dir}: ${info.layers} layers, hidden ${info.hidden}, ` +
        `${info.heads} heads, vocabulary ${info.vocabSize}, ${info.dtype}`,
    );
  } catch (e) {
    console.error(`make-hf-checkpoint: ${e.message}`);
    process.exit(2);
  }
}
