/**
 * The manual baseline through the conformance kit (created through the plugin's own
 * ContainerModule): LoRA at the largest uniform rank that fits, a fixed-rank adapter, full
 * fine-tuning (which ignores the budget, and says so) and the frozen encoder with a linear head.
 */
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { creator, describeSearchStrategy, loadContributions, ofKind } from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);
const variants: Record<string, unknown>[] = [
  { type: 'lora' },
  { type: 'adapter', rank: 1, placement: 'pfeiffer' },
  { type: 'full' },
  { type: 'head-only' },
];

for (const c of ofKind(contributions, 'search-strategy')) {
  for (const options of variants) {
    describeSearchStrategy(`${c.name} ${JSON.stringify(options)}`, creator(contributions, c, options), {
      types: builtinModuleTypes,
      space: 'none',
    });
  }
}
