/**
 * The `__NAME__` backbone: another backbone whose tokenizer sees every text lower-cased. Points,
 * weights and the encoder graph are the wrapped backbone's own.
 */
import type {
  Backbone,
  BuildOptions,
  EncoderHooks,
  EncoderInputs,
  Encoding,
  JsonSchema,
  Tokenizer,
  WeightRole,
} from '@peftkit/api';
import type { Graph, TensorData, Value } from '@peftkit/graph';

export const __CLASS__OptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['backbone'],
  properties: {
    backbone: {
      'x-peftkit-component': 'backbone',
      description: 'The backbone to wrap ({ name, options }), e.g. { name: use-lite }.',
    },
  },
};

class LowercaseTokenizer implements Tokenizer {
  constructor(private readonly inner: Tokenizer) {}
  get vocabSize(): number {
    return this.inner.vocabSize;
  }
  get padId(): number {
    return this.inner.padId;
  }
  encode(text: string, pair?: string, maxLength?: number): Encoding {
    return this.inner.encode(text.toLowerCase(), pair?.toLowerCase(), maxLength);
  }
}

export class __CLASS__ implements Backbone {
  readonly tokenizer: Tokenizer;

  constructor(private readonly inner: Backbone) {
    this.tokenizer = new LowercaseTokenizer(inner.tokenizer);
  }

  get info() {
    return this.inner.info;
  }

  encode(g: Graph, inputs: EncoderInputs, hooks: EncoderHooks, opts: BuildOptions): Value {
    return this.inner.encode(g, inputs, hooks, opts);
  }

  pretrained(point: string): Partial<Record<WeightRole, TensorData>> {
    return this.inner.pretrained(point);
  }

  externalName(point: string): string | undefined {
    return this.inner.externalName?.(point);
  }
}
