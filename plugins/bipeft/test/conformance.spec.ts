/**
 * Every contribution of the BIPEFT plugin through the conformance kit, created through the plugin's
 * own ContainerModule and `create` (so the strategy resolves its estimator and scheduler the way a
 * run does): the S1 and S2 spaces, the sensitivity estimator (both scores), the budget scheduler
 * and the strategy, on the tiny fixture with the smallest settings.
 */
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import {
  creator,
  describeBudgetScheduler,
  describeImportanceEstimator,
  describeSearchSpace,
  describeSearchStrategy,
  loadContributions,
  ofKind,
} from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);
const scheduler = { name: 'bipeft-budget', options: { rounds: 3, window: 2, lastRounds: 1, threshold: 0.5 } };

for (const c of ofKind(contributions, 'search-space')) {
  describeSearchSpace(c.name, creator(contributions, c, { ranks: [1, 2] }), { types: builtinModuleTypes });
}
for (const c of ofKind(contributions, 'importance-estimator')) {
  describeImportanceEstimator(c.name, creator(contributions, c));
  describeImportanceEstimator(`${c.name} (Ī·Ū)`, creator(contributions, c, { useUncertainty: true }));
}
for (const c of ofKind(contributions, 'budget-scheduler')) {
  describeBudgetScheduler(c.name, creator(contributions, c, scheduler.options));
}
for (const c of ofKind(contributions, 'search-strategy')) {
  describeSearchStrategy(c.name, creator(contributions, c, { pruneBeginEpoch: 0, scheduler }), {
    types: builtinModuleTypes,
    space: 's1-like',
    recipe: { epochs: 3 },
  });
}
