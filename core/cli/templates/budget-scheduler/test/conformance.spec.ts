/**
 * The kit's conformance suite: on the class directly, and as the engine builds it (create).
 * `stepsPerEpoch` is how many decisions the simulation makes per epoch; `timeout` bounds each test.
 */
import { creator, describeBudgetScheduler, loadContributions, ofKind } from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';
import plugin from '../src/plugin.js';

describeBudgetScheduler('__NAME__', () => new __CLASS__());

const contributions = await loadContributions(plugin);
describeBudgetScheduler(
  '__NAME__ (through the plugin, 3 rounds every 4 steps)',
  creator(contributions, ofKind(contributions, 'budget-scheduler')[0]!, { rounds: 3, every: 4 }),
  { stepsPerEpoch: 5, timeout: 30_000 },
);
