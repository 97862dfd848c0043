/** The kit's conformance suite: on the class directly, and as the engine builds it (create). */
import { creator, describeImportanceEstimator, loadContributions, ofKind } from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';
import plugin from '../src/plugin.js';

describeImportanceEstimator('__NAME__', () => new __CLASS__());

const contributions = await loadContributions(plugin);
describeImportanceEstimator(
  '__NAME__ (through the plugin, beta 0.5)',
  creator(contributions, ofKind(contributions, 'importance-estimator')[0]!, { beta: 0.5 }),
);
