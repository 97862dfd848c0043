/**
 * AutoPEFT through the conformance kit (created through the plugin's own ContainerModule): its space
 * and the BO strategy on it, with a short run (3 initial designs, 2 BO iterations).
 */
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import {
  creator,
  describeSearchSpace,
  describeSearchStrategy,
  loadContributions,
  ofKind,
} from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);
const spaces = ofKind(contributions, 'search-space');
const spaceOptions = { sizes: [1, 2, 4] };

for (const c of spaces) {
  describeSearchSpace(c.name, creator(contributions, c, spaceOptions), { types: builtinModuleTypes });
}

const space = await creator(
  contributions,
  spaces.find((c) => c.name === 'autopeft')!,
  spaceOptions,
)();
for (const c of ofKind(contributions, 'search-strategy')) {
  const options = {
    initialDesigns: 3,
    iterations: 2,
    trialEpochs: 1,
    randomCandidates: 8,
    gpRestarts: 1,
    gpIterations: 30,
  };
  describeSearchStrategy(c.name, creator(contributions, c, options), {
    types: builtinModuleTypes,
    space,
    recipe: { epochs: 1, lr: 1e-2 },
  });
}
