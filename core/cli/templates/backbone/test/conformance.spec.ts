/** The kit's conformance suite around the tiny fixture backbone: directly, and as the engine builds it. */
import {
  creator,
  describeBackbone,
  fixturePlugin,
  loadContributions,
  ofKind,
  tinyBackbone,
} from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';
import plugin from '../src/plugin.js';

describeBackbone('__NAME__ around tiny', () => new __CLASS__(tinyBackbone({ hidden: 8 })));

// The fixture plugin registers the tiny backbone, so that `backbone: { name: tiny }` resolves.
const contributions = [...(await loadContributions(plugin)), ...(await loadContributions(fixturePlugin))];
describeBackbone(
  '__NAME__ (through the plugin)',
  creator(
    contributions,
    ofKind(contributions, 'backbone').find((c) => c.name === '__NAME__')!,
    {
      backbone: { name: 'tiny', options: { hidden: 8 } },
    },
  ),
);
