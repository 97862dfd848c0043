#!/usr/bin/env node
/**
 * Validate peftkit's generated ONNX graphs with the reference checker: onnx.checker.check_model
 * (full_check, which includes strict shape inference) from Debian's python3-onnx (onnx 1.12,
 * opset <= 17). A development tool, not part of CI:
 *
 *   apt-get install -y python3-onnx
 *   npm run build && node tools/check-onnx.mjs
 *
 * It builds the train and eval programs of a supernet with every PEFT module type on the tiny
 * fixture backbone, a LoRA program on USE-lite, and the standalone export model, writes each as a
 * self-contained .onnx file and runs the checker on it. The graphs are serialised with
 * `standardOps`, which writes ONNX Runtime's contrib ops (fused GELU, FusedMatMul) as standard ops,
 * so the strict checks cover every node (core/graph/test/onnx-export.spec.ts checks that the lowered
 * graphs compute the same as the contrib ones).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@peftkit/api';
import { serialize } from '@peftkit/graph';
import { buildProgram, PeftToolkit } from '@peftkit/nn';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { loadUseLite } from '@peftkit/plugin-use-lite';
import { tinyBackbone, tinyTask } from '@peftkit/testing';

const types = { get: (n) => builtinModuleTypes[n], names: () => Object.keys(builtinModuleTypes) };
const dir = mkdtempSync(join(tmpdir(), 'peftkit-onnx-check-'));
const graphs = [];

const tiny = tinyBackbone({ hidden: 8 });
const task = tinyTask({});
const supernet = [];
for (const p of tiny.info.points) {
  for (const t of Object.values(builtinModuleTypes)) {
    if (t.name === 'full' || !t.attachesTo.includes(p.kind) || !t.accepts(p)) continue;
    supernet.push({
      type: t.name,
      point: p.name,
      rank: t.ranked ? 4 : null,
      gated: true,
      rankMasked: t.ranked,
    });
  }
}
const ctx = { backbone: tiny, task: task.info, types };
graphs.push([
  'tiny supernet (every module type), train',
  buildProgram(ctx, { modules: supernet }, 'train').graph,
]);
graphs.push(['tiny supernet, eval', buildProgram(ctx, { modules: supernet }, 'eval').graph]);
graphs.push([
  'tiny full fine-tuning, train',
  buildProgram(
    ctx,
    {
      modules: tiny.info.points
        .filter((p) => ['linear', 'layernorm', 'embedding'].includes(p.kind))
        .map((p) => ({ type: 'full', point: p.name, rank: null })),
    },
    'train',
  ).graph,
]);

const use = await loadUseLite({});
const useTask = { ...task.info, name: 'sentiment' };
const lora = ['layer.0.attn.q', 'layer.1.ffn.in', 'layer.1.attn.v'].map((point) => ({
  type: 'lora',
  point,
  rank: 8,
}));
graphs.push([
  'USE-lite + LoRA, train',
  buildProgram({ backbone: use, task: useTask, types }, { modules: lora }, 'train').graph,
]);
const tk = new PeftToolkit(use, useTask, types);
const params = tk.init({ modules: lora }, new Rng(1));
graphs.push([
  'USE-lite + LoRA, standalone export (merged)',
  buildProgram({ backbone: use, task: useTask, types }, { modules: lora }, 'eval', {
    inlineParams: params,
    merge: true,
  }).graph,
]);

const CHECK = `
import sys, onnx
from onnx import checker, shape_inference
m = onnx.load(sys.argv[1])
checker.check_model(m, full_check=True)
inferred = shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
print(f"ok: {len(m.graph.node)} nodes, opset {m.opset_import[0].version}, full check and strict shape inference passed ({len(inferred.graph.value_info)} inferred values)")
`;
let failed = 0;
for (const [name, g] of graphs) {
  const file = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.onnx`);
  writeFileSync(file, serialize(g, { inlineAll: true, standardOps: true }).model);
  try {
    const out = execFileSync('/usr/bin/python3', ['-c', CHECK, file], { encoding: 'utf8' }).trim();
    console.log(`${name}: ${out}`);
  } catch (e) {
    failed++;
    console.log(`${name}: FAILED\n${e.stderr || e.message}`);
  }
}
rmSync(dir, { recursive: true, force: true });
console.log(`${graphs.length - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
