/** The `hf` backbone contribution: Hugging Face-format BERT / RoBERTa / XLM-R / DistilBERT / ELECTRA checkpoints. */
import { ContainerModule, contribute } from '@peftkit/api';
import { loadHfBackbone } from './load.js';
import type { HeadChoice, Pooling } from './encoder.js';

export const HF_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  oneOf: [{ required: ['path'] }, { required: ['model'] }],
  properties: {
    path: {
      type: 'string',
      minLength: 1,
      description:
        'Checkpoint directory as transformers save_pretrained writes it: config.json, model.safetensors ' +
        '(or sharded model.safetensors.index.json) and tokenizer.json. Relative to the preset directory. ' +
        'Exactly one of path and model.',
    },
    model: {
      type: 'string',
      minLength: 1,
      description:
        'A hub id (org/name) from the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ' +
        '~/.cache/huggingface/hub), downloaded into it from $HF_ENDPOINT (default https://huggingface.co) ' +
        'when missing, unless HF_HUB_OFFLINE is set; HF_TOKEN for gated or private models. Exactly one of path and model.',
    },
    revision: {
      type: 'string',
      minLength: 1,
      description: 'With model: the branch, tag or commit hash (default main).',
    },
    head: {
      enum: ['hf', 'linear'],
      description:
        "Task head: exactly the architecture's transformers *ForSequenceClassification head (hf: BERT's " +
        'classifier on the pooler, RoBERTa / XLM-R / ELECTRA dense + tanh|gelu + out_proj on <s>, ' +
        "DistilBERT pre_classifier + relu + classifier), starting from the checkpoint's head when it has " +
        "one; or peftkit's linear layer over any pooling (linear). Default: hf, unless pooling names " +
        'another pooling than that head reads. Exports load in PEFT only with hf.',
    },
    pooling: {
      enum: ['cls', 'mean', 'pooler'],
      description:
        'Sentence representation: the final [CLS] / <s> state (cls), the mean over non-padding tokens ' +
        "(mean), or BERT's pooler tanh(dense([CLS])) (pooler; needs pooler weights, not in DistilBERT " +
        "or ELECTRA). Default: what the head reads (pooler for BERT's hf head, else cls); the hf head " +
        'needs exactly that one.',
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
      'Hugging Face-format encoder (BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA) from a local ' +
      "checkpoint directory, with the architecture's transformers classification head by default",
    optionsSchema: HF_OPTIONS_SCHEMA,
    async create(options, ctx) {
      const backbone = await loadHfBackbone({
        path: options.path as string | undefined,
        model: options.model as string | undefined,
        revision: options.revision as string | undefined,
        pooling: options.pooling as Pooling | undefined,
        head: options.head as HeadChoice | undefined,
        maxLength: options.maxLength as number | undefined,
        dropout: options.dropout as number | undefined,
        baseDir: ctx.baseDir,
        log: (line) => ctx.log.info(`backbone hf: ${line}`),
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
