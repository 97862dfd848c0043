/**
 * The sequence-classification heads of transformers, exactly: the layers, activations and dropout
 * placement of each architecture's `*ForSequenceClassification`, over the pooled representation
 * the encoder returns with the pooling the head needs (`pooler` for BERT, `cls` for the others).
 *
 *   bert                      dropout -> classifier                                  (on the pooler output)
 *   roberta, xlm-roberta      dropout -> classifier.dense -> tanh -> dropout -> classifier.out_proj
 *   electra                   dropout -> classifier.dense -> gelu -> dropout -> classifier.out_proj
 *   distilbert                pre_classifier -> relu -> dropout -> classifier
 *
 * Parameters carry the transformers names (`head/classifier.dense.weight`), linear weights as
 * [in, out]. They start from the checkpoint's head where it has the tensor with the right shape
 * (a *ForSequenceClassification checkpoint with as many labels), else as transformers initialises
 * a fresh head: weights ~ N(0, initializer_range), biases 0.
 */
import type { Rng, SafetensorsTensor, TaskHead } from '@peftkit/api';
import { type Value, ops } from '@peftkit/graph';
import type { HfConfig } from './config.js';
import type { Pooling } from './encoder.js';
import { asFloat32, transposed } from './weights.js';

interface Layer {
  /** Module name in the task model (`classifier.dense`). */
  readonly module: string;
  readonly inF: number;
  readonly outF: number;
}

interface HeadLayout {
  readonly layers: readonly Layer[];
  /** The activation between the two layers of two-layer heads. */
  readonly activation?: 'tanh' | 'gelu' | 'relu';
  /** Dropout before the first layer (all but DistilBERT, whose dropout follows its activation). */
  readonly dropoutFirst: boolean;
  /** The task model's top-level modules the head consists of (PEFT's modules_to_save). */
  readonly modules: readonly string[];
  readonly className: string;
}

/** The pooling each architecture's classification head reads. */
export function headPooling(cfg: HfConfig): Pooling {
  return cfg.modelType === 'bert' ? 'pooler' : 'cls';
}

function layout(cfg: HfConfig, outputs: number): HeadLayout {
  const H = cfg.hiddenSize;
  switch (cfg.modelType) {
    case 'bert':
      return {
        layers: [{ module: 'classifier', inF: H, outF: outputs }],
        dropoutFirst: true,
        modules: ['classifier'],
        className: 'BertForSequenceClassification',
      };
    case 'distilbert':
      return {
        layers: [
          { module: 'pre_classifier', inF: H, outF: H },
          { module: 'classifier', inF: H, outF: outputs },
        ],
        activation: 'relu',
        dropoutFirst: false,
        modules: ['pre_classifier', 'classifier'],
        className: 'DistilBertForSequenceClassification',
      };
    case 'roberta':
    case 'xlm-roberta':
    case 'electra':
      return {
        layers: [
          { module: 'classifier.dense', inF: H, outF: H },
          { module: 'classifier.out_proj', inF: H, outF: outputs },
        ],
        activation: cfg.modelType === 'electra' ? 'gelu' : 'tanh',
        dropoutFirst: true,
        modules: ['classifier'],
        className: `${{ roberta: 'Roberta', 'xlm-roberta': 'XLMRoberta', electra: 'Electra' }[cfg.modelType]}ForSequenceClassification`,
      };
  }
}

/**
 * The head of `cfg`'s architecture for `outputs` logits; `checkpoint` holds the task-head tensors
 * the checkpoint has (by their names there).
 */
export function hfTaskHead(
  cfg: HfConfig,
  outputs: number,
  checkpoint: ReadonlyMap<string, SafetensorsTensor>,
  dropout: number,
): TaskHead {
  const l = layout(cfg, outputs);
  const params = l.layers.flatMap((x) => [
    { name: `${x.module}.weight`, shape: [x.inF, x.outF] },
    { name: `${x.module}.bias`, shape: [x.outF] },
  ]);
  const fromCheckpoint = (name: string, shape: readonly number[]): Float32Array | undefined => {
    const t = checkpoint.get(name);
    const data = t && asFloat32(t);
    if (!t || !data) return undefined;
    // Stored as PyTorch [out, in] for weights.
    const stored = shape.length === 2 ? [shape[1], shape[0]] : shape;
    if (t.shape.join(',') !== stored.join(',')) return undefined;
    return shape.length === 2 ? transposed(data, shape[1]!, shape[0]!) : Float32Array.from(data);
  };
  const loaded = params.filter((p) => fromCheckpoint(p.name, p.shape) !== undefined).map((p) => p.name);
  const act = l.activation ? `${l.activation}, ` : '';
  return {
    description:
      `${l.className} head (${l.layers.map((x) => x.module).join(`, ${act}`)}), ` +
      (loaded.length === 0
        ? 'freshly initialised'
        : loaded.length === params.length
          ? "from the checkpoint's head"
          : `${loaded.join(', ')} from the checkpoint, the rest fresh`),
    params,
    init(rng: Rng) {
      const out: Record<string, Float32Array> = {};
      for (const p of params) {
        const n = p.shape.reduce((a, b) => a * b, 1);
        out[p.name] =
          fromCheckpoint(p.name, p.shape) ??
          (p.shape.length === 2
            ? Float32Array.from({ length: n }, () => rng.normal() * cfg.initializerRange)
            : new Float32Array(n));
      }
      return out;
    },
    apply(_g, pooled, param, opts) {
      let seed = 9000;
      const drop = (x: Value): Value =>
        opts.train && dropout > 0 ? ops.dropout(x, dropout, ++seed).output : x;
      const dense = (x: Value, layer: Layer): Value =>
        ops.add(ops.matmul(x, param(`${layer.module}.weight`)), param(`${layer.module}.bias`));
      let x = l.dropoutFirst ? drop(pooled) : pooled;
      x = dense(x, l.layers[0]!);
      if (l.layers.length === 1) return x;
      if (l.activation === 'tanh') x = ops.tanh(x);
      else if (l.activation === 'gelu') x = ops.gelu(x, 'none');
      else x = ops.relu(x);
      return dense(drop(x), l.layers[1]!);
    },
    externalName: (name) => ({ name, transpose: name.endsWith('.weight') }),
    externalModules: l.modules,
    encoderModule: cfg.modelPrefix,
    externalClass: l.className,
  };
}
