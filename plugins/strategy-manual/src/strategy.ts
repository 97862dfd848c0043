/**
 * Manual PEFT at a budget: one module type at its usual places, as a baseline next to the searched
 * configurations. The strategy decides the configuration from the budget with exact parameter
 * counts and asks for no jobs; the engine trains the configuration like any found architecture.
 *
 * - Ranked types (LoRA, adapters, prefix): the largest uniform rank (the same rank at every target)
 *   whose exact count fits the budget, or the fixed `rank`.
 * - Unranked types (BitFit, LNFit) and ranked types whose rank-1 (or fixed-rank) configuration does
 *   not fit: targets are kept in backbone order from the bottom up (so dropped by layer from the
 *   top), each one that still fits; a budget below the smallest module is a ConfigError.
 * - `full`: full fine-tuning of every linear layer, LayerNorm and embedding; ignores the budget
 *   (with a warning, recorded in the summary).
 * - `head-only`: the frozen encoder with its linear task head (no module).
 */
import type {
  Architecture,
  AttachmentPoint,
  Job,
  JobResult,
  JsonSchema,
  ModuleChoice,
  PeftModuleType,
  SearchContext,
  SearchOutcome,
  SearchStrategy,
} from '@peftkit/api';
import { ConfigError, moduleId } from '@peftkit/api';
import {
  ADAPTER_TYPES,
  type AdapterPlacement,
  type KeepOrder,
  type TargetRule,
  defaultTargets,
  keepOrder,
  resolveTargets,
} from './targets.js';

export interface ManualOptions {
  /** A registered module type (lora, adapter, …), `full`, or `head-only`. */
  type: string;
  /** Glob patterns over attachment-point names (default: the type's usual places). */
  targets?: string[];
  /** Adapter types: both sublayers (`houlsby`, default) or the FFN sublayer only (`pfeiffer`). */
  placement?: AdapterPlacement;
  /** A fixed rank for ranked types (default: the largest uniform rank that fits the budget). */
  rank?: number;
  /** Upper limit of the rank chosen from the budget. */
  maxRank?: number;
  /** Per-module options of the type (LoRA `alpha`, adapter `activation`, prefix `style`, …). */
  moduleOptions?: Record<string, unknown>;
  /** Which targets are kept first when not all fit (default `bottom-up`: dropped from the top). */
  keep?: KeepOrder;
}

export const MANUAL_TYPES = [
  'lora',
  'adapter',
  'parallel-adapter',
  'lowrank-adapter',
  'prefix',
  'bitfit',
  'lnfit',
  'full',
  'head-only',
];

export const manualOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: {
      type: 'string',
      description: `Module type: ${MANUAL_TYPES.join(', ')}, or any registered module type with explicit targets.`,
      examples: MANUAL_TYPES,
    },
    targets: {
      type: 'array',
      items: { type: 'string' },
      minItems: 1,
      description:
        'Glob patterns over attachment-point names (default per type: LoRA on attn q,k,v,o and ffn in,out; adapters on the sublayers; prefix on every attention; BitFit on every linear and LayerNorm; LNFit on every LayerNorm; full on every linear, LayerNorm and embedding).',
    },
    placement: {
      enum: ['houlsby', 'pfeiffer'],
      description:
        'Adapter types only: houlsby (after the attention and the FFN sublayer, default) or pfeiffer (after the FFN sublayer only).',
    },
    rank: {
      type: 'integer',
      minimum: 1,
      description:
        'Fixed rank / bottleneck / prefix length (default: the largest uniform rank whose exact count fits the budget).',
    },
    maxRank: {
      type: 'integer',
      minimum: 1,
      description: 'Upper limit of the rank chosen from the budget.',
    },
    moduleOptions: {
      type: 'object',
      description: 'Per-module options of the type (e.g. LoRA alpha, adapter activation, prefix style).',
    },
    keep: {
      enum: ['bottom-up', 'top-down'],
      default: 'bottom-up',
      description:
        'When not every target fits: keep targets from the bottom of the network up (drop by layer from the top, default) or from the top down.',
    },
  },
};

interface State {
  outcome: SearchOutcome;
}

export class ManualStrategy implements SearchStrategy {
  private st!: State;

  constructor(private readonly options: ManualOptions) {
    if (typeof options.type !== 'string' || options.type.length === 0) {
      throw new ConfigError('missing, expected a module type name', undefined, 'strategy.options.type');
    }
  }

  start(ctx: SearchContext, resumed?: unknown): void {
    if (resumed) {
      this.st = resumed as State;
      return;
    }
    const outcome = this.decide(ctx);
    const { type: moduleType, ...rest } = outcome.summary!;
    ctx.emit({ ...rest, type: 'manual', moduleType });
    this.st = { outcome };
  }

  ask(): readonly Job[] | null {
    return null;
  }

  tell(_results: readonly JobResult[]): void {
    throw new Error('the manual strategy asks for no jobs, so it takes no results');
  }

  state(): unknown {
    return this.st;
  }

  outcome(): SearchOutcome {
    return this.st.outcome;
  }

  private decide(ctx: SearchContext): SearchOutcome {
    const o = this.options;
    const where = (f: string) => `strategy.options.${f}`;
    const budget = ctx.budget.params;
    if (o.type === 'head-only') {
      for (const f of ['targets', 'rank', 'placement', 'moduleOptions'] as const) {
        if (o[f] !== undefined) throw new ConfigError('head-only takes no modules', undefined, where(f));
      }
      return {
        architecture: { modules: [] },
        summary: { type: 'head-only', targets: [], dropped: [], rank: null, trainableParams: 0, budget },
      };
    }
    const names = ctx.modules.types.names();
    if (!names.includes(o.type)) {
      throw new ConfigError(
        `unknown module type "${o.type}"`,
        undefined,
        where('type'),
        `registered: ${names.join(', ')}, or head-only`,
      );
    }
    const type = ctx.modules.types.get(o.type);
    if (o.placement !== undefined && !ADAPTER_TYPES.includes(o.type)) {
      throw new ConfigError(
        `placement applies to adapter types (${ADAPTER_TYPES.join(', ')})`,
        undefined,
        where('placement'),
      );
    }
    if (o.placement !== undefined && o.targets !== undefined) {
      throw new ConfigError('give either targets or placement, not both', undefined, where('placement'));
    }
    if (!type.ranked && (o.rank !== undefined || o.maxRank !== undefined)) {
      throw new ConfigError(
        `${o.type} has no rank`,
        undefined,
        where(o.rank !== undefined ? 'rank' : 'maxRank'),
      );
    }
    const placement = o.placement ?? 'houlsby';
    const rule: TargetRule | null = o.targets ? { patterns: o.targets } : defaultTargets(o.type, placement);
    if (!rule) {
      throw new ConfigError(
        `module type ${o.type} has no default targets`,
        undefined,
        where('targets'),
        'list target patterns',
      );
    }
    const targets = resolveTargets(ctx.backbone, type, rule, where('targets'));
    const moduleOptions = o.moduleOptions ?? {};
    const make = (pts: readonly AttachmentPoint[], rank: number | null): Architecture => ({
      modules: pts.map((p): ModuleChoice => ({
        type: o.type,
        point: p.name,
        rank,
        ...(Object.keys(moduleOptions).length ? { options: { ...moduleOptions } } : {}),
      })),
    });
    const base = {
      type: o.type,
      ...(ADAPTER_TYPES.includes(o.type) && !o.targets ? { placement } : {}),
      budget,
    };

    if (o.type === 'full') {
      const arch = make(targets, null);
      const count = ctx.modules.countArchitecture(arch);
      const warning = `full fine-tuning ignores the budget: ${count} trainable parameters against a budget of ${budget}`;
      ctx.log.warn(warning);
      return {
        architecture: arch,
        budgetIgnored: 'full fine-tuning trains every weight whatever the budget',
        summary: {
          ...base,
          targets: targets.map((p) => p.name),
          dropped: [],
          rank: null,
          trainableParams: count,
          budgetIgnored: true,
          warning,
        },
      };
    }

    const rank0 = type.ranked ? (o.rank ?? 1) : null;
    this.checkSmallest(ctx, type, targets, rank0, moduleOptions);
    let rank = rank0;
    let rankChoice: string | null = type.ranked ? (o.rank !== undefined ? 'fixed' : 'largest-uniform') : null;
    if (type.ranked && o.rank === undefined) {
      if (ctx.modules.countArchitecture(make(targets, 1)) <= budget) {
        rank = largestUniformRank((r) => ctx.modules.countArchitecture(make(targets, r)), budget, o.maxRank);
        if (o.maxRank !== undefined && rank === o.maxRank) rankChoice = 'maxRank';
      } else rankChoice = 'rank 1, targets dropped';
    }
    const kept = this.fit(ctx, targets, rank, moduleOptions);
    const arch = make(kept, rank);
    const count = ctx.modules.countArchitecture(arch);
    const dropped = targets.filter((p) => !kept.includes(p)).map((p) => p.name);
    return {
      architecture: arch,
      summary: {
        ...base,
        targets: kept.map((p) => p.name),
        dropped,
        rank,
        rankChoice,
        trainableParams: count,
        keep: o.keep ?? 'bottom-up',
      },
    };
  }

  /** A budget below the smallest single module is an error: no configuration of this type fits. */
  private checkSmallest(
    ctx: SearchContext,
    type: PeftModuleType,
    targets: readonly AttachmentPoint[],
    rank: number | null,
    options: Record<string, unknown>,
  ): void {
    let smallest = Infinity;
    let id = '';
    for (const p of targets) {
      const c = ctx.modules.count(type.name, p.name, rank, options);
      if (c < smallest) {
        smallest = c;
        id = moduleId(type.name, p.name);
      }
    }
    if (ctx.budget.params < smallest) {
      throw new ConfigError(
        `the budget of ${ctx.budget.params} trainable parameters is below the smallest ${type.name} module (${id}${rank !== null ? ` at rank ${rank}` : ''}: ${smallest} parameters)`,
        undefined,
        'budget',
        `raise the budget to at least ${smallest} (ratio ${(smallest / ctx.budget.backboneParams).toExponential(3)})`,
      );
    }
  }

  /** Targets kept in keep order, each one that still fits next to those kept before it. */
  private fit(
    ctx: SearchContext,
    targets: readonly AttachmentPoint[],
    rank: number | null,
    options: Record<string, unknown>,
  ): AttachmentPoint[] {
    const kept = new Set<string>();
    let total = 0;
    for (const p of keepOrder(targets, ctx.backbone, this.options.keep ?? 'bottom-up')) {
      const c = ctx.modules.count(this.options.type, p.name, rank, options);
      if (total + c <= ctx.budget.params) {
        kept.add(p.name);
        total += c;
      }
    }
    return targets.filter((p) => kept.has(p.name));
  }
}

/**
 * The largest rank r ≥ 1 with count(r) ≤ budget, for a count that grows with r (exact counts; the
 * affine extrapolation from ranks 1 and 2 only gives the starting point). Assumes count(1) fits.
 */
export function largestUniformRank(count: (r: number) => number, budget: number, maxRank?: number): number {
  const c1 = count(1);
  const slope = count(2) - c1;
  if (slope <= 0)
    throw new Error(`parameter count does not grow with the rank (${c1} at rank 1, ${c1 + slope} at rank 2)`);
  let r = Math.max(1, Math.floor((budget - c1) / slope) + 1);
  if (maxRank !== undefined) r = Math.min(r, maxRank);
  while (r > 1 && count(r) > budget) r--;
  while ((maxRank === undefined || r < maxRank) && count(r + 1) <= budget) r++;
  return r;
}
