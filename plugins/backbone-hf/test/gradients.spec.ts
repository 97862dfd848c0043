/**
 * The encoder graph is differentiable where PEFT modules train: gradients through the hooked
 * weights (a LayerNorm scale, a linear bias, the pooler, an embedding table) match central
 * differences in ONNX Runtime.
 */
import type { WeightRole } from '@peftkit/api';
import { gradCheck, tensor, type Value } from '@peftkit/graph';
import { identityHooks } from '@peftkit/nn';
import { expect } from 'chai';
import { join } from 'node:path';
import { loadHfBackbone } from '../src/index.js';
import { makeBatch, makeCheckpoint, scratch } from './helpers.js';
import { runOrt } from './ort.js';

describe('hf backbone: gradients', function () {
  this.timeout(60_000);
  const tmp = scratch();
  after(() => tmp.cleanup());

  for (const type of ['bert', 'roberta'] as const) {
    it(`${type}: analytic gradients of hooked weights match finite differences`, async () => {
      const dir = join(tmp.dir, type);
      await makeCheckpoint({ type, out: dir, hidden: 16, heads: 2, layers: 2 });
      const backbone = await loadHfBackbone({ path: dir, pooling: 'pooler' });
      const batch = makeBatch(backbone, [['the river rose', 'again'], ['bread needs flour']]);
      const [B, T] = [batch.ids.length, batch.ids[0]!.length];
      // Trainable stand-ins for frozen weights, started at their pretrained values. (float32 central
      // differences: eps 2e-2 balances truncation against round-off; observed max error ~5e-3.)
      const trained: Record<string, [string, WeightRole]> = {
        ln: ['layer.0.ln_attn', 'scale'],
        qb: ['layer.1.attn.q', 'bias'],
        pb: ['pooler', 'bias'],
        tt: ['embeddings.type', 'table'],
      };
      const result = await gradCheck({
        inputs: [
          {
            name: 'ids',
            shape: ['B', 'T'],
            dtype: 'int64',
            values: tensor('int64', [B, T], batch.ids.flat()),
          },
          {
            name: 'mask',
            shape: ['B', 'T'],
            trainable: false,
            values: tensor('float32', [B, T], batch.mask.flat()),
          },
          {
            name: 'type_ids',
            shape: ['B', 'T'],
            dtype: 'int64',
            values: tensor('int64', [B, T], batch.typeIds!.flat()),
          },
          ...Object.entries(trained).map(([name, [point, role]]) => {
            const t = backbone.pretrained(point)[role]!;
            return { name, shape: t.shape, values: t };
          }),
        ],
        build: (g, v) => {
          const id = identityHooks(g);
          const hooks = {
            ...id,
            weight: (point: string, role: WeightRole, data: Parameters<typeof id.weight>[2]): Value => {
              const hit = Object.entries(trained).find(([, [p, r]]) => p === point && r === role);
              return hit ? v[hit[0]]! : id.weight(point, role, data);
            },
          };
          return backbone.encode(g, { ids: v.ids!, mask: v.mask!, typeIds: v.type_ids! }, hooks, {
            train: false,
          });
        },
        run: runOrt,
        bindings: { B, T },
        eps: 2e-2,
        maxEntries: 8,
      });
      expect(result.entries.length).to.equal(4 * 8);
      expect(result.maxRelError, JSON.stringify(result.worst)).to.be.lessThan(2e-2);
    });
  }
});
