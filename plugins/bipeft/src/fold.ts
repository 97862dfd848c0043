/**
 * Folding the supernet (an implementation device, docs/bipeft.md "Folding"): pruned modules leave
 * the program and frozen ranks are sliced into it, once at least `fraction` of the program's modules
 * changed, so later steps run a smaller program. A frozen rank is folded only where the module type
 * says a rank mask equals the sliced module (`exactRankSlice`); a prefix keeps its full length with
 * the frozen mask, as in the reference. The optimiser's moment buffers are sliced the same way, so
 * the leading components continue exactly as they would have without folding.
 */
import type { Candidate, ModuleToolkit } from '@peftkit/api';
import type { Optimizer } from '@peftkit/train';
import type { Supernet } from './supernet.js';

/** Fold what is pending into the supernet's program; returns the folded module ids ([] if none). */
export function foldSupernet(
  net: Supernet,
  modules: ModuleToolkit,
  optimizer: Optimizer,
  fraction: number,
): string[] {
  const s = net.s;
  const prog = net.inProgram();
  const sliceable = (c: Candidate) =>
    modules.types.get(c.type).exactRankSlice?.((c.options ?? {}) as Record<string, unknown>) ?? true;
  /** The rank a ranked module's parameters have now: r_max until folded. */
  const heldRank = (c: Candidate) =>
    s.folded[c.id] === 'frozen'
      ? (s.foldedRanks?.[c.id] ?? c.ranks![s.frozen[c.id]!]!)
      : c.ranks![c.ranks!.length - 1]!;
  const pending = prog.filter(
    (c) =>
      (!s.kept[c.id] && s.folded[c.id] !== 'pruned') ||
      (s.kept[c.id] &&
        s.frozen[c.id] !== undefined &&
        c.ranks &&
        sliceable(c) &&
        (s.folded[c.id] !== 'frozen' || heldRank(c) !== c.ranks[s.frozen[c.id]!])),
  );
  if (pending.length === 0 || pending.length < fraction * prog.length) return [];
  const drop: string[] = [];
  const optState = optimizer.state();
  for (const c of pending) {
    const names = Object.keys(s.params).filter((n) => n.startsWith(`${c.id}/`));
    if (!s.kept[c.id]) {
      for (const n of names) delete s.params[n];
      drop.push(...names);
      s.folded[c.id] = 'pruned';
      continue;
    }
    const from = heldRank(c);
    const to = c.ranks![s.frozen[c.id]!]!;
    const options = c.options as Record<string, unknown>;
    Object.assign(s.params, modules.slice(s.params, c.type, c.point, from, to, options));
    for (const n of names) {
      const ps = optState.params[n];
      if (!ps) continue;
      for (const [b, buf] of Object.entries(ps.buffers))
        ps.buffers[b] = modules.slice({ [n]: buf }, c.type, c.point, from, to, options)[n]!;
    }
    s.folded[c.id] = 'frozen';
    (s.foldedRanks ??= {})[c.id] = to;
  }
  optimizer.restore(optState);
  optimizer.drop(drop);
  return pending.map((c) => c.id);
}
