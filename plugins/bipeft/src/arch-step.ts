/**
 * One architecture update (method spec §2.4): the logit gradients of the sampled space (from the
 * program's gate and rank-mask gradients through the relaxation's backward), plus the regulariser
 * λ·mean|softmax(θ) − θ| on every logit tensor, then one Adam step on the logits that still matter.
 *
 * Tensors as in the released code: binary logits of ranked modules (absent in the entangled
 * ablation, whose joint logits are the rank logits), binary logits of vector modules, and rank
 * logits. Each tensor's mean runs over all its modules (pruned and frozen rows included, as in the
 * released code's fixed-size tensors); only kept modules' β and kept, unfrozen modules' α move.
 */
import type { Candidate, GradientResult, ParamSet } from '@peftkit/api';
import type { Optimizer } from '@peftkit/train';
import { softmaxDistanceRegularizer } from './relax.js';
import type { ArchSample, Supernet } from './supernet.js';

export function architectureStep(
  net: Supernet,
  sample: ArchSample,
  r: GradientResult,
  optimizer: Optimizer,
  o: { lr: number; regularization: number; entangled: boolean },
): void {
  const { beta, alpha } = net.backward(sample, r.gateGrads, r.rankMaskGrads);
  const all = net.candidates;
  const moving = (c: Candidate, of: 'beta' | 'alpha'): boolean =>
    net.s.kept[c.id]! && (of === 'beta' || net.s.frozen[c.id] === undefined);
  const groups = (
    [
      [all.filter((c) => c.ranks && !o.entangled), 'beta'],
      [all.filter((c) => !c.ranks), 'beta'],
      [all.filter((c) => c.ranks), 'alpha'],
    ] as const
  ).map(([members, of]) => ({ members, of, ids: members.filter((c) => moving(c, of)).map((c) => c.id) }));
  const params: ParamSet = {};
  const grads: ParamSet = {};
  for (const g of groups) {
    if (g.ids.length === 0) continue;
    const rows = g.ids.map((id) => net.s[g.of][id]!);
    const rg = g.ids.map((id, k) => [...((g.of === 'beta' ? beta : alpha).get(id) ?? rows[k]!.map(() => 0))]);
    const numel = g.members.reduce((a, c) => a + net.s[g.of][c.id]!.length, 0);
    softmaxDistanceRegularizer(rows, o.regularization, rg, numel);
    g.ids.forEach((id, k) => {
      params[`${g.of}/${id}`] = Float32Array.from(rows[k]!);
      grads[`${g.of}/${id}`] = Float32Array.from(rg[k]!);
    });
  }
  optimizer.step(params, grads, o.lr);
  for (const [name, v] of Object.entries(params)) {
    const [of, ...rest] = name.split('/');
    net.s[of as 'beta' | 'alpha'][rest.join('/')] = Array.from(v);
  }
}
