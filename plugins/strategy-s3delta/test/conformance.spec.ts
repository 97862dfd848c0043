/**
 * S3Delta through the conformance kit (created through the plugin's own ContainerModule): its two
 * spaces, and the strategy on S3PET-M in second-order and first-order mode.
 */
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import {
  creator,
  describeSearchSpace,
  describeSearchStrategy,
  loadContributions,
  ofKind,
} from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);
const spaces = ofKind(contributions, 'search-space');

for (const c of spaces) describeSearchSpace(c.name, creator(contributions, c), { types: builtinModuleTypes });

const s3petM = await creator(
  contributions,
  spaces.find((c) => c.name === 's3pet-m')!,
)();
for (const c of ofKind(contributions, 'search-strategy')) {
  for (const options of [{}, { firstOrder: true }]) {
    describeSearchStrategy(`${c.name} ${JSON.stringify(options)}`, creator(contributions, c, options), {
      types: builtinModuleTypes,
      space: s3petM,
    });
  }
}
