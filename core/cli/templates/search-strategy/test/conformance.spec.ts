/** The kit's conformance suite on the fixture space and task, as the engine builds it. */
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { creator, describeSearchStrategy, loadContributions, ofKind } from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);
describeSearchStrategy(
  '__NAME__',
  creator(contributions, ofKind(contributions, 'search-strategy')[0]!, { trialEpochs: 1 }),
  {
    types: builtinModuleTypes,
    space: 's1-like',
    recipe: { epochs: 1 },
  },
);
