/** The `hf` backbone contribution: Hugging Face-format BERT / RoBERTa / DistilBERT checkpoints. */
import { ContainerModule, contribute } from '@peftkit/api';
import { loadHfBackbone } from './load.js';
import type { Pooling } from './encoder.js';

export const HF_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: {
      type: 'string',
      minLength: 1,
      description:
        'Checkpoint directory as transformers save_pretrained writes it: config.json, model.safetensors ' +
        '(or sharded model.safetensors.index.json) and tokenizer.json. Relative to the preset directory.',
    },
    pooling: {
      enum: ['cls', 'mean', 'pooler'],
      default: 'cls',
      description:
        'Sentence representation: the final [CLS] / <s> state (cls), the mean over non-padding tokens ' +
        "(mean), or BERT's pooler tanh(dense([CLS])) (pooler; needs pooler weights, not in DistilBERT).",
    },
    maxLength: {
      type: 'integer',
      minimum: 3,
      description:
        'Tokens per sequence (texts and pairs are truncated longest-first); default min(128, positions of the model).',
    },
    dropout: {
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0,
      description:
        'Hidden dropout in training graphs (after the embeddings and each sublayer); 0 = none. Evaluation never drops.',
    },
  },
} as const;

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'backbone',
    name: 'hf',
    description:
      'Hugging Face-format encoder (BERT, RoBERTa, DistilBERT) from a local checkpoint directory; ' +
      'task heads in the checkpoint are ignored',
    optionsSchema: HF_OPTIONS_SCHEMA,
    async create(options, ctx) {
      const backbone = await loadHfBackbone({
        path: options.path as string,
        pooling: options.pooling as Pooling | undefined,
        maxLength: options.maxLength as number | undefined,
        dropout: options.dropout as number | undefined,
        baseDir: ctx.baseDir,
      });
      ctx.log.info(`backbone hf: ${backbone.description}`);
      if (backbone.options.dropout > 0) {
        ctx.log.warn(
          'backbone hf: dropout > 0 draws its masks from ONNX Runtime streams that restart with each session, ' +
            'so a resumed run will not be bit-identical to an uninterrupted one',
        );
      }
      return backbone;
    },
  });
});
