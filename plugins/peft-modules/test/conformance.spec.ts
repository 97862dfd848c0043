/**
 * Every module type of the plugin through the conformance kit, created through the plugin's own
 * ContainerModule. Adapters use GELU here (finite differences across a ReLU kink are meaningless);
 * full fine-tuning cannot be gated; prefix is checked in both styles.
 */
import {
  creator,
  describePeftModuleType,
  loadContributions,
  ofKind,
  type PeftModuleTypeSuiteOptions,
} from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);

const settings: Record<string, PeftModuleTypeSuiteOptions[]> = {
  lora: [{}, { options: { alpha: 3 } }],
  bitfit: [{}],
  lnfit: [{}],
  adapter: [{ options: { activation: 'gelu' } }],
  'parallel-adapter': [{ options: { activation: 'gelu' } }],
  'lowrank-adapter': [{ options: { reductionFactor: 2, init: 'glorot' } }],
  prefix: [
    { options: { style: 'gated' } },
    { options: { style: 'concat' } },
    { options: { reparam: { hidden: 3 } } },
  ],
  full: [{ gateable: false }],
};

for (const c of ofKind(contributions, 'peft-module')) {
  const variants = settings[c.name];
  if (!variants) throw new Error(`conformance settings missing for module type ${c.name}`);
  for (const opts of variants) {
    const label = opts.options ? `${c.name} ${JSON.stringify(opts.options)}` : c.name;
    describePeftModuleType(label, creator(contributions, c), opts);
  }
}
