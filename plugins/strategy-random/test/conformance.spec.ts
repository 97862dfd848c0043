/** Random search through the conformance kit (created through the plugin's own ContainerModule). */
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { creator, describeSearchStrategy, loadContributions, ofKind } from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);

for (const c of ofKind(contributions, 'search-strategy')) {
  describeSearchStrategy(c.name, creator(contributions, c, { trials: 3, trialEpochs: 1 }), {
    types: builtinModuleTypes,
    space: 's1-like',
    recipe: { epochs: 1 },
  });
}
