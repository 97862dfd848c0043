/** Container module of the random-search plugin: the `random` search strategy. */
import { ContainerModule, contribute } from '@peftkit/api';
import { type RandomOptions, RandomSearchStrategy, randomOptionsSchema } from './strategy.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'search-strategy',
    name: 'random',
    description:
      'Random search over the search space within the budget: sample architectures that fit, train each briefly, keep the best on the architecture half of the training data',
    optionsSchema: randomOptionsSchema,
    create: (o) => new RandomSearchStrategy(o as RandomOptions),
  });
});
