/**
 * The `use-lite` backbone through the conformance kit, created through the plugin's own
 * ContainerModule (the shipped USE-lite weights and SentencePiece vocabulary).
 */
import { creator, describeBackbone, loadContributions, ofKind } from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);

for (const c of ofKind(contributions, 'backbone')) {
  describeBackbone(c.name, creator(contributions, c, {}), {
    texts: [
      ['The food was good and the service quick.', 'A fine meal.'],
      ['I would not go back there, it was loud and the staff ignored us for an hour.', 'Loud.'],
      ['ok', 'Perfectly fine.'],
    ],
  });
}
