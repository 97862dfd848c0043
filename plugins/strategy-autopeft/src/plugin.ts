/** Container module of the AutoPEFT baseline: the `autopeft` search space and the BO search strategy. */
import { ContainerModule, contribute } from '@peftkit/api';
import { AutoPeftSpace, type AutoPeftSpaceOptions, autopeftSpaceOptionsSchema } from './space.js';
import { type AutoPeftOptions, AutoPeftStrategy, autopeftOptionsSchema } from './strategy.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'search-space',
    name: 'autopeft',
    description:
      'AutoPEFT space: serial adapter, parallel adapter and prefix, one global size each (0 = absent), plus a per-layer insert flag',
    optionsSchema: autopeftSpaceOptionsSchema,
    create: (o) => new AutoPeftSpace(o as AutoPeftSpaceOptions),
  });
  contribute(bind, {
    kind: 'search-strategy',
    name: 'autopeft',
    description:
      'AutoPEFT: multi-objective Bayesian optimisation (GP surrogate, exact 2-D EHVI) of parameter ratio and validation score',
    optionsSchema: autopeftOptionsSchema,
    create: (o) => new AutoPeftStrategy(o as AutoPeftOptions),
  });
});
