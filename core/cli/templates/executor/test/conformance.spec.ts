/** The kit's conformance suite: on the class directly, and as the engine builds it. */
import { creator, describeExecutor, loadContributions, ofKind } from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';
import plugin from '../src/plugin.js';

describeExecutor('__NAME__', () => new __CLASS__());

const contributions = await loadContributions(plugin);
describeExecutor(
  '__NAME__ (through the plugin)',
  creator(contributions, ofKind(contributions, 'executor')[0]!),
);
