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
}

export function applyDecision(net: Supernet, d: ScheduleDecision): AppliedRound {
  for (const id of d.prune) net.s.kept[id] = false;
  const frozen = d.freeze.map((id) => {
    const c = net.byId.get(id)!;
    const idx = net.rankIndex(c);
    net.s.frozen[id] = idx;
    return { id, rank: c.ranks![idx]! };
  });
  return { pruned: [...d.prune], frozen };
}
