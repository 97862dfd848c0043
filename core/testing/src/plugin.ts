/**
 * @peftkit/testing as a plugin (package.json `peftkit.module`): the tiny fixture backbone and task
 * as registered contributions named `tiny`, so that a preset can run a whole search or training in
 * seconds (`plugins: ['@peftkit/testing']`, `backbone: { name: tiny }`, `task: { name: tiny }`).
 * For smoke runs of plugins and tests only: the backbone is random and the task synthetic.
 */
import { ContainerModule, contribute } from '@peftkit/api';
import { tinyBackbone, tinyTask } from './fixtures.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'backbone',
    name: 'tiny',
    description: 'Tiny random pre-LN encoder (test fixture, not for results)',
    optionsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        hidden: { type: 'integer', minimum: 4, description: 'hidden width (default 16)' },
        layers: { type: 'integer', minimum: 1, description: 'encoder layers (default 2)' },
        heads: { type: 'integer', minimum: 1, description: 'attention heads' },
        seed: { type: 'integer', description: 'seed of the random weights' },
      },
    },
    create: (o) => tinyBackbone(o),
  });
  contribute(bind, {
    kind: 'task',
    name: 'tiny',
    description: 'Synthetic polarity task over the tiny vocabulary (test fixture, not for results)',
    optionsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        seed: { type: 'integer', description: 'seed of the generated examples' },
        train: { type: 'integer', minimum: 1, description: 'training examples' },
        validation: { type: 'integer', minimum: 1, description: 'validation examples' },
        test: { type: 'integer', minimum: 1, description: 'test examples' },
        pair: { type: 'boolean', description: 'sentence pairs (same polarity or not)' },
      },
    },
    create: (o) => tinyTask(o),
  });
});
