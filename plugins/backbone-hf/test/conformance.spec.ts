/**
 * The `hf` backbone through the conformance kit, created through the plugin's own ContainerModule,
 * on small random checkpoints in the Hugging Face format (tools/make-hf-checkpoint.mjs): BERT with
 * [CLS] and pooler pooling, RoBERTa (byte-level BPE) and DistilBERT with mean pooling.
 */
import { creator, describeBackbone, loadContributions, ofKind } from '@peftkit/testing';
import { join } from 'node:path';
import plugin from '../src/plugin.js';
import { makeCheckpoint, scratch } from './helpers.js';

const contributions = await loadContributions(plugin);
const tmp = scratch();
after(() => tmp.cleanup());

const variants = [
  { type: 'bert', pooling: 'cls' },
  { type: 'bert', pooling: 'pooler' },
  { type: 'roberta', pooling: 'cls' },
  { type: 'distilbert', pooling: 'mean' },
] as const;

for (const c of ofKind(contributions, 'backbone')) {
  for (const v of variants) {
    const dir = join(tmp.dir, `${v.type}-${v.pooling}`);
    await makeCheckpoint({ type: v.type, out: dir, layers: 2, hidden: 16, heads: 2, positions: 40 });
    describeBackbone(
      `${c.name} (${v.type}, ${v.pooling} pooling)`,
      creator(contributions, c, { path: dir, pooling: v.pooling }),
      {
        texts: [
          ['The river rose slowly after three days of rain.', 'The bridge was closed.'],
          ['Reading carefully is better', 'Questions are often more helpful than answers!'],
          ['bread', 'A good bread needs flour, water, salt and time.'],
        ],
      },
    );
  }
}
