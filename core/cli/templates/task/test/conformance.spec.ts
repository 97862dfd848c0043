/** The kit's conformance suite: on the class directly, and as the engine builds it. */
import { creator, describeTask, loadContributions, ofKind } from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';
import plugin from '../src/plugin.js';

describeTask('__NAME__', () => new __CLASS__());

const contributions = await loadContributions(plugin);
describeTask('__NAME__ (through the plugin)', creator(contributions, ofKind(contributions, 'task')[0]!));
