/** Hooks that leave the frozen network unchanged: every weight becomes a (deduplicated) initializer. */
import type { EncoderHooks, WeightRole } from '@peftkit/api';
import type { Graph, TensorData, Value } from '@peftkit/graph';

/** The frozen weight of `point`/`role` as an initializer named `<point>.<role>`, created once per graph. */
export function frozenWeight(
  g: Graph,
  cache: Map<string, Value>,
  point: string,
  role: WeightRole,
  data: TensorData,
): Value {
  const name = `${point}.${role}`;
  let v = cache.get(name);
  if (!v) {
    v = g.initializer(name, data);
    cache.set(name, v);
  }
  return v;
}

export function identityHooks(g: Graph): EncoderHooks {
  const cache = new Map<string, Value>();
  return {
    weight: (point, role, data) => frozenWeight(g, cache, point, role, data),
    linear: (_p, _x, y) => y,
    layerNorm: (_p, _x, y) => y,
    sublayer: (_p, _x, y) => y,
    attentionKeys: (_p, kv) => kv,
    attentionContext: (_p, _q, c) => c,
  };
}

/**
 * Wrap hooks so that every call is recorded: tests use it to check that a backbone hooks each point
 * it lists exactly once per encoder pass, with the kind it declares.
 */
export function recordingHooks(
  inner: EncoderHooks,
  calls: { point: string; hook: keyof EncoderHooks }[],
): EncoderHooks {
  return {
    weight: (p, r, d) => (calls.push({ point: p, hook: 'weight' }), inner.weight(p, r, d)),
    linear: (p, x, y) => (calls.push({ point: p, hook: 'linear' }), inner.linear(p, x, y)),
    layerNorm: (p, x, y, e) => (calls.push({ point: p, hook: 'layerNorm' }), inner.layerNorm(p, x, y, e)),
    sublayer: (p, x, y) => (calls.push({ point: p, hook: 'sublayer' }), inner.sublayer(p, x, y)),
    attentionKeys: (p, kv) => (calls.push({ point: p, hook: 'attentionKeys' }), inner.attentionKeys(p, kv)),
    attentionContext: (p, q, c, s) => (
      calls.push({ point: p, hook: 'attentionContext' }),
      inner.attentionContext(p, q, c, s)
    ),
  };
}
