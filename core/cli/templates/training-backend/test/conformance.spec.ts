/** The kit's conformance suite around the kit's in-process ONNX Runtime backend. */
import type { Contribution } from '@peftkit/api';
import {
  InProcessBackend,
  creator,
  describeTrainingBackend,
  loadContributions,
  ofKind,
} from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';
import plugin from '../src/plugin.js';

describeTrainingBackend('__NAME__ around in-process', () => new __CLASS__(new InProcessBackend()));

// As the engine builds it, wrapping a backend registered under another name.
const inProcess: Contribution = {
  kind: 'training-backend',
  name: 'in-process',
  description: 'the kit backend',
  optionsSchema: {},
  create: () => new InProcessBackend(),
};
const contributions = [...(await loadContributions(plugin)), inProcess];
describeTrainingBackend(
  '__NAME__ (through the plugin)',
  creator(contributions, ofKind(contributions, 'training-backend')[0]!, { backend: { name: 'in-process' } }),
);
