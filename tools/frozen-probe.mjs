#!/usr/bin/env node
/**
 * An independent check of the frozen-encoder baseline (docs/results.md): USE-lite sentence
 * embeddings of the sentiment splits computed with peftkit's encoder graph, then a full-batch,
 * L2-regularised logistic regression trained to convergence in float64 in plain JavaScript (no
 * peftkit training code involved). Prints validation and test accuracy per regularisation strength.
 *
 *   npm run build && node tools/frozen-probe.mjs
 */
import { loadUseLite } from '@peftkit/plugin-use-lite';
import { createSentimentTask } from '@peftkit/plugin-tasks';
import { identityHooks, encodeExamples, batchFeeds } from '@peftkit/nn';
import { Graph } from '@peftkit/graph';
import { runGraph } from '@peftkit/testing';
const bb = await loadUseLite({});
const task = createSentimentTask({});
const g = new Graph();
const ids = g.input('input_ids', 'int64', ['B', 'T']);
const mask = g.input('attention_mask', 'float32', ['B', 'T']);
g.output(bb.encode(g, { ids, mask }, identityHooks(g), { train: false }), 'emb');
const layout = { params: [], gated: [], rankMasked: [], pairInputs: 'none', labelType: 'int64' };
async function embed(split) {
  const ex = encodeExamples(bb.tokenizer, task.splits[split], 'none', 128);
  const out = [];
  for (let i = 0; i < ex.length; i += 64) {
    const idx = Array.from({ length: Math.min(64, ex.length - i) }, (_, k) => i + k);
    const f = batchFeeds(ex, idx, layout, 0, false);
    const r = await runGraph(g, { input_ids: f.input_ids, attention_mask: f.attention_mask }, ['emb']);
    const d = r.emb.data;
    for (let b = 0; b < idx.length; b++) out.push(Float64Array.from(d.subarray(b * 512, (b + 1) * 512)));
  }
  return { X: out, y: task.splits[split].map((e) => e.label) };
}
const tr = await embed('train'),
  va = await embed('validation'),
  te = await embed('test');
function fit(lambda) {
  const w = new Float64Array(512);
  let b = 0;
  const n = tr.X.length;
  const lr = 2;
  for (let it = 0; it < 3000; it++) {
    const gw = new Float64Array(512);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let z = b;
      const x = tr.X[i];
      for (let k = 0; k < 512; k++) z += w[k] * x[k];
      const p = 1 / (1 + Math.exp(-z));
      const e = p - tr.y[i];
      for (let k = 0; k < 512; k++) gw[k] += e * x[k];
      gb += e;
    }
    for (let k = 0; k < 512; k++) w[k] -= lr * (gw[k] / n + lambda * w[k]);
    b -= (lr * gb) / n;
  }
  const acc = (d) =>
    d.X.filter((x, i) => {
      let z = b;
      for (let k = 0; k < 512; k++) z += w[k] * x[k];
      return (z > 0 ? 1 : 0) === d.y[i];
    }).length / d.X.length;
  return { lambda, val: acc(va), test: acc(te) };
}
for (const l of [1e-2, 1e-3, 1e-4, 0]) console.log(JSON.stringify(fit(l)));
