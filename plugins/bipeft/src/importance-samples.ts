/**
 * What the importance estimator observes after a weight step (method spec §2.5): for every kept
 * module, its current parameters, the weight-batch gradients and the architecture-batch gradients
 * of the same iteration, and its full size n_j (at r_max). The strategy and the PyTorch cross-check
 * test build the samples with this one function.
 */
import type { ImportanceSample, ParamSet } from '@peftkit/api';
import type { Supernet } from './supernet.js';

export function importanceSamples(
  net: Supernet,
  weightGrads: ParamSet,
  archGrads: ParamSet | null,
): ImportanceSample[] {
  const names = Object.keys(net.s.params);
  return net.alive().map((c) => {
    const own = names.filter((n) => n.startsWith(`${c.id}/`));
    return {
      id: c.id,
      size: net.fullSize(c),
      params: own.map((n) => net.s.params[n]!),
      weightGrads: own.map((n) => weightGrads[n]!),
      archGrads: archGrads ? own.map((n) => archGrads[n]!) : undefined,
    };
  });
}
