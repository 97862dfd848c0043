/** The kit's conformance suite: on the class directly (writing to a sink), and as the engine builds it. */
import { creator, describeReporter, loadContributions, ofKind } from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';
import plugin from '../src/plugin.js';

describeReporter('__NAME__', () => new __CLASS__({ write: () => true }));

const contributions = await loadContributions(plugin);
describeReporter(
  '__NAME__ (through the plugin)',
  creator(contributions, ofKind(contributions, 'reporter')[0]!),
);
