/**
 * Applying a budget scheduler's decision to the supernet (method spec §2.8–2.9): pruned modules
 * leave the keep mask for good (their rank counts as frozen), frozen ones keep the rank they have
 * now (argmax α). The strategy and the supernet-level budget tests share it.
 */
import type { ScheduleDecision } from '@peftkit/api';
import type { Supernet } from './supernet.js';

export interface AppliedRound {
  pruned: string[];
  frozen: { id: string; rank: number }[];
  /** Survivors set to a smaller candidate rank (the final round's alternative to pruning them). */
  lowered: { id: string; from: number; to: number }[];
}

export function applyDecision(net: Supernet, d: ScheduleDecision): AppliedRound {
  for (const id of d.prune) net.s.kept[id] = false;
  const frozen = d.freeze.map((id) => {
    const c = net.byId.get(id)!;
    const idx = net.rankIndex(c);
    net.s.frozen[id] = idx;
    return { id, rank: c.ranks![idx]! };
  });
  const lowered = (d.lower ?? []).map(({ id, rankIndex }) => {
    const c = net.byId.get(id)!;
    const from = c.ranks![net.rankIndex(c)]!;
    net.s.frozen[id] = rankIndex;
    return { id, from, to: c.ranks![rankIndex]! };
  });
  return { pruned: [...d.prune], frozen, lowered };
}
