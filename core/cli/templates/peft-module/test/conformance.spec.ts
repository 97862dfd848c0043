/** The kit's conformance suite (finite-difference gradients included): directly, and as the engine builds it. */
import { creator, describePeftModuleType, loadContributions, ofKind } from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';
import plugin from '../src/plugin.js';

describePeftModuleType('__NAME__', () => __CLASS__);

const contributions = await loadContributions(plugin);
describePeftModuleType(
  '__NAME__ (through the plugin)',
  creator(contributions, ofKind(contributions, 'peft-module')[0]!),
);
