/** The kit's conformance suite, with the built-in module types: directly, and as the engine builds it. */
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { creator, describeSearchSpace, loadContributions, ofKind } from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';
import plugin from '../src/plugin.js';

describeSearchSpace('__NAME__', () => new __CLASS__(), { types: builtinModuleTypes });

const contributions = await loadContributions(plugin);
describeSearchSpace(
  '__NAME__ (through the plugin, top layer, ranks 2 and 4)',
  creator(contributions, ofKind(contributions, 'search-space')[0]!, { layers: 1, ranks: [2, 4] }),
  { types: builtinModuleTypes },
);
