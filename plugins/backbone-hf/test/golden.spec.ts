/**
 * Golden parity against the real libraries: checkpoints made by transformers' save_pretrained with
 * tokenizers trained by the `tokenizers` library (tools/python/hf_fixtures.py), one per supported
 * architecture. peftkit's tokenizer must give transformers' token ids and token type ids exactly
 * (special tokens, pairs, truncation), and its encoder graph, run in ONNX Runtime on transformers'
 * own batch, transformers' last hidden states within 1e-5; where the checkpoint has a trained
 * classification head (bert, electra), peftkit's transformers head started from it gives
 * AutoModelForSequenceClassification's logits within 1e-5.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfFixtures, requireGoldenPython } from '@peftkit/testing';
import { Graph, serialize, tensor } from '@peftkit/graph';
import { Rng } from '@peftkit/api';
import { identityHooks } from '@peftkit/nn';
import { loadHfBackbone } from '../src/index.js';
import type { HfEncoder } from '../src/encoder.js';
import { ortRunner } from './ort.js';

interface GoldenCase {
  kind: 'text' | 'pair';
  items: [string, string?][];
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
  hidden: number[];
  hiddenShape: [number, number, number];
  /** AutoModelForSequenceClassification's logits, for the checkpoints with a trained head. */
  logits?: number[][];
}
interface Golden {
  maxLength: number;
  architectures: Record<string, { vocabSize: number; cases: GoldenCase[] }>;
}

const ARCHITECTURES = ['bert', 'roberta', 'distilbert', 'xlm-roberta', 'electra'] as const;
const HIDDEN_TOLERANCE = 1e-5;

/**
 * The encoder's last hidden states [B, T, H] for a padded batch, as ONNX Runtime computes them,
 * and the logits of its transformers head started from the checkpoint ([B, 2]).
 */
async function run(
  backbone: HfEncoder,
  c: GoldenCase,
): Promise<{ hidden: Float32Array; logits: Float32Array }> {
  const g = new Graph('golden');
  const ids = g.input('ids', 'int64', ['B', 'T']);
  const mask = g.input('mask', 'float32', ['B', 'T']);
  const types = backbone.config.typeVocabSize > 0 ? g.input('types', 'int64', ['B', 'T']) : undefined;
  const last = `layer.${backbone.config.numLayers - 1}.ln_ffn`;
  const base = identityHooks(g);
  const hooks = {
    ...base,
    layerNorm: (
      point: string,
      x: Parameters<typeof base.layerNorm>[1],
      y: Parameters<typeof base.layerNorm>[2],
      eps: number,
    ) => {
      const out = base.layerNorm(point, x, y, eps);
      if (point === last) g.output(out, 'hidden');
      return out;
    },
  };
  const pooled = backbone.encode(g, { ids, mask, typeIds: types }, hooks, { train: false });
  const head = backbone.taskHead(2)!;
  const init = head.init(new Rng(1));
  const params = new Map(
    head.params.map((p) => [
      p.name,
      g.initializer(`head/${p.name}`, tensor('float32', [...p.shape], init[p.name]!)),
    ]),
  );
  g.output(
    head.apply(g, pooled, (n) => params.get(n)!, { train: false }),
    'logits',
  );
  const [B, T] = c.hiddenShape;
  const feeds = {
    ids: tensor('int64', [B, T], c.input_ids.flat()),
    mask: tensor('float32', [B, T], c.attention_mask.flat()),
    ...(types ? { types: tensor('int64', [B, T], c.token_type_ids.flat()) } : {}),
  };
  const out = await ortRunner('all')(serialize(g), feeds, ['hidden', 'logits'], g);
  return { hidden: out.hidden!.data as Float32Array, logits: out.logits!.data as Float32Array };
}

describe('hf backbone: golden parity with transformers and tokenizers', function () {
  this.timeout(120_000);
  let dir = '';
  let golden: Golden;
  before(async function () {
    const python = requireGoldenPython(this);
    dir = await hfFixtures(python);
    golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
  });

  for (const arch of ARCHITECTURES) {
    it(`${arch}: token ids and token types equal transformers'; hidden states within ${HIDDEN_TOLERANCE}`, async () => {
      const backbone = await loadHfBackbone({ path: join(dir, arch) });
      const rec = golden.architectures[arch]!;
      expect(backbone.tokenizer.vocabSize).to.equal(rec.vocabSize);
      let maxDiff = 0;
      let maxLogitDiff = 0;
      for (const c of rec.cases) {
        c.items.forEach(([a, b], row) => {
          const enc = backbone.tokenizer.encode(a, b, golden.maxLength);
          const n = c.attention_mask[row]!.reduce((s, v) => s + v, 0);
          expect(enc.ids, `${arch} ids of ${JSON.stringify([a, b])}`).to.deep.equal(
            c.input_ids[row]!.slice(0, n),
          );
          // DistilBERT has no token type embeddings, so peftkit makes no type ids for it.
          if (arch !== 'distilbert') {
            expect(enc.typeIds, `${arch} token types of ${JSON.stringify([a, b])}`).to.deep.equal(
              c.token_type_ids[row]!.slice(0, n),
            );
          }
        });
        const { hidden: got, logits } = await run(backbone, c);
        if (c.logits) {
          // The checkpoint's own head, exactly as transformers applies it.
          const want = c.logits.flat();
          for (let i = 0; i < want.length; i++)
            maxLogitDiff = Math.max(maxLogitDiff, Math.abs(logits[i]! - want[i]!));
        }
        expect(got.length).to.equal(c.hidden.length);
        let spread = 0;
        for (let i = 0; i < got.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(got[i]! - c.hidden[i]!));
          spread = Math.max(spread, Math.abs(c.hidden[i]! - c.hidden[i % c.hiddenShape[2]]!));
        }
        expect(spread, 'the golden states are not degenerate').to.be.greaterThan(0.1);
      }
      console.log(
        `      ${arch}: max |peftkit - transformers| over the last hidden states = ${maxDiff.toExponential(2)}`,
      );
      expect(maxDiff).to.be.at.most(HIDDEN_TOLERANCE);
      if (rec.cases[0]!.logits) {
        console.log(
          `      ${arch}: max |peftkit - transformers| over the checkpoint head's logits = ${maxLogitDiff.toExponential(2)}`,
        );
        expect(maxLogitDiff).to.be.at.most(HIDDEN_TOLERANCE);
      }
    });
  }
});
