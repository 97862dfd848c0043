/**
 * AdaLoRA through the conformance kit (created through the plugin's own ContainerModule): the
 * `adalora` module type, and the strategy, which masks triplets on its cubic schedule and trains the
 * final model itself (so it may score that model on the test split at the very end).
 */
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import {
  creator,
  describePeftModuleType,
  describeSearchStrategy,
  loadContributions,
  ofKind,
} from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);
const modules = ofKind(contributions, 'peft-module');

for (const c of modules) {
  describePeftModuleType(c.name, creator(contributions, c));
  describePeftModuleType(`${c.name} {"alpha":4,"scalingRank":8}`, creator(contributions, c), {
    options: { alpha: 4, scalingRank: 8 },
  });
}

const adalora = await creator(
  contributions,
  modules.find((c) => c.name === 'adalora')!,
)();
for (const c of ofKind(contributions, 'search-strategy')) {
  describeSearchStrategy(
    c.name,
    creator(contributions, c, { initRank: 4, targetRank: 2, tinit: 2, tfinal: 4, deltaT: 2 }),
    {
      types: { ...builtinModuleTypes, adalora },
      space: 'none',
      budget: 2000,
      recipe: { epochs: 3, lr: 1e-2 },
    },
  );
}
