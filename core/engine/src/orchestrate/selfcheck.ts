/**
 * The gradient self-check of `peftkit doctor`: small graphs of the operations a transformer with
 * PEFT modules uses, differentiated by peftkit's autodiff, compiled and run by the configured
 * training backend, and compared against central finite differences (float32, step 0.01).
 */
import type { TrainingBackend } from '@peftkit/api';
import { type Graph, type GradCheckInput, type Value, gradCheck, ops, tensor } from '@peftkit/graph';

interface Case {
  name: string;
  inputs: GradCheckInput[];
  build: (g: Graph, x: Record<string, Value>) => Value;
}

const frozen = (g: Graph, name: string, shape: number[], seed: number) =>
  g.initializer(
    name,
    tensor(
      'float32',
      shape,
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed + i * 0.37) * 0.5),
    ),
  );

const CASES: Case[] = [
  {
    name: 'linear + GELU + LayerNorm',
    inputs: [
      { name: 'x', shape: ['B', 6] },
      { name: 'w', shape: [6, 5] },
      { name: 's', shape: [5] },
    ],
    build: (g, x) => ops.layerNorm(ops.gelu(ops.matmul(x.x!, x.w!)), x.s!, frozen(g, 'b', [5], 1), 1e-5),
  },
  {
    name: 'attention (batched MatMul, Softmax)',
    inputs: [
      { name: 'q', shape: [1, 2, 3, 4] },
      { name: 'k', shape: [1, 2, 3, 4] },
      { name: 'v', shape: [1, 2, 3, 4] },
    ],
    build: (_g, x) =>
      ops.matmul(ops.softmax(ops.mul(ops.matmul(x.q!, ops.transposeLast2(x.k!)), 0.5), -1), x.v!),
  },
  {
    name: 'LoRA next to a frozen linear',
    inputs: [
      { name: 'x', shape: ['B', 8] },
      { name: 'A', shape: [8, 2] },
      { name: 'Bm', shape: [2, 6] },
    ],
    build: (g, x) =>
      ops.add(ops.matmul(x.x!, frozen(g, 'W', [8, 6], 2)), ops.matmul(ops.matmul(x.x!, x.A!), x.Bm!)),
  },
  {
    name: 'embedding lookup + cross-entropy',
    inputs: [
      { name: 'E', shape: [5, 3] },
      {
        name: 'ids',
        shape: [4],
        dtype: 'int64',
        trainable: false,
        values: tensor('int64', [4], [0, 3, 3, 1]),
      },
      { name: 'y', shape: [4], dtype: 'int64', trainable: false, values: tensor('int64', [4], [2, 0, 1, 2]) },
    ],
    build: (_g, x) => ops.softmaxCrossEntropy(ops.gather(x.E!, x.ids!, 0), x.y!),
  },
];

export interface SelfCheckResult {
  maxRelError: number;
  checks: { name: string; maxRelError: number }[];
}

export async function gradientSelfCheck(backend: TrainingBackend): Promise<SelfCheckResult> {
  const keys = new WeakMap<Graph, string>();
  let n = 0;
  const checks: SelfCheckResult['checks'] = [];
  for (const c of CASES) {
    const r = await gradCheck({
      inputs: c.inputs,
      build: c.build,
      bindings: { B: 3 },
      eps: 1e-2,
      maxEntries: 8,
      run: async (_model, feeds, fetches, graph) => {
        let key = keys.get(graph);
        if (!key) keys.set(graph, (key = `selfcheck-${n++}`));
        const p = await backend.compile(key, () => graph);
        return p.run(feeds, fetches);
      },
    });
    checks.push({ name: c.name, maxRelError: r.maxRelError });
  }
  for (let i = 0; i < n; i++) await backend.release(`selfcheck-${i}`);
  return { maxRelError: Math.max(...checks.map((c) => c.maxRelError)), checks };
}
