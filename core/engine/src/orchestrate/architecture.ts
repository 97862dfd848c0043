/**
 * Fixed architectures written in presets: explicit modules, or target patterns over attachment
 * points with a rank and a per-point rank pattern (as PEFT's target_modules and rank_pattern):
 *
 *   architecture:
 *     targets:
 *       - { type: lora, targets: "layer.*.attn.[qv]", rank: 8, rankPattern: { "layer.1.*": 4 } }
 *       - { type: bitfit, targets: ["layer.*.ln_attn", "layer.*.ln_ffn"] }
 *     modules:
 *       - { type: lora, point: pooler, rank: 2 }
 *
 * A pattern that matches no point of the backbone is an error (PEFT issue #1959), and so is a type
 * that cannot attach where a module asks it to.
 */
import type { Architecture, BackboneInfo, ModuleChoice, ModuleTypes } from '@peftkit/api';
import { ConfigError, globToRegExp, matchPoints, moduleId } from '@peftkit/api';

export interface TargetSpec {
  type: string;
  targets: string | string[];
  rank?: number;
  rankPattern?: Record<string, number>;
  options?: Record<string, unknown>;
}

export interface ArchitectureSpec {
  modules?: ModuleChoice[];
  targets?: TargetSpec[];
}

export function expandArchitecture(
  spec: ArchitectureSpec,
  backbone: BackboneInfo,
  types: ModuleTypes,
  file?: string,
): Architecture {
  const out: ModuleChoice[] = [];
  const seen = new Set<string>();
  const points = new Map(backbone.points.map((p) => [p.name, p]));
  const add = (m: ModuleChoice, where: string) => {
    const id = moduleId(m.type, m.point);
    if (seen.has(id)) throw new ConfigError(`module ${id} is listed twice`, file, where);
    seen.add(id);
    out.push(m);
  };
  (spec.targets ?? []).forEach((t, i) => {
    const where = `architecture.targets[${i}]`;
    let type;
    try {
      type = types.get(t.type);
    } catch (e) {
      throw new ConfigError((e as Error).message, file, `${where}.type`);
    }
    let matched;
    try {
      matched = matchPoints(t.targets, backbone.points, type.attachesTo).filter((p) => type.accepts(p));
    } catch (e) {
      throw new ConfigError(`${(e as Error).message} on backbone ${backbone.name}`, file, `${where}.targets`);
    }
    const pattern = Object.entries(t.rankPattern ?? {}).map(([glob, r]) => [globToRegExp(glob), r] as const);
    for (const p of matched) {
      let rank: number | null = null;
      if (type.ranked) {
        rank = pattern.find(([re]) => re.test(p.name))?.[1] ?? t.rank ?? null;
        if (rank === null)
          throw new ConfigError(
            `${t.type} needs a rank (set rank, or rankPattern for ${p.name})`,
            file,
            `${where}.rank`,
          );
      } else if (t.rank !== undefined) {
        throw new ConfigError(`${t.type} takes no rank`, file, `${where}.rank`);
      }
      add({ type: t.type, point: p.name, rank, ...(t.options ? { options: t.options } : {}) }, where);
    }
  });
  (spec.modules ?? []).forEach((m, i) => {
    const where = `architecture.modules[${i}]`;
    let type;
    try {
      type = types.get(m.type);
    } catch (e) {
      throw new ConfigError((e as Error).message, file, `${where}.type`);
    }
    const p = points.get(m.point);
    if (!p) {
      const near = [...points.keys()]
        .filter((n) => n.split('.').slice(-1)[0] === m.point.split('.').slice(-1)[0])
        .slice(0, 4);
      throw new ConfigError(
        `backbone ${backbone.name} has no attachment point "${m.point}"`,
        file,
        `${where}.point`,
        near.length ? `did you mean ${near.join(', ')}?` : undefined,
      );
    }
    if (!type.attachesTo.includes(p.kind) || !type.accepts(p)) {
      throw new ConfigError(
        `${m.type} cannot attach to ${p.kind} point ${m.point} (it attaches to ${type.attachesTo.join(', ')})`,
        file,
        `${where}.point`,
      );
    }
    if (type.ranked && (m.rank === null || m.rank === undefined))
      throw new ConfigError(`${m.type} needs a rank`, file, `${where}.rank`);
    if (!type.ranked && m.rank !== null && m.rank !== undefined)
      throw new ConfigError(`${m.type} takes no rank`, file, `${where}.rank`);
    add(
      {
        type: m.type,
        point: m.point,
        rank: type.ranked ? m.rank : null,
        ...(m.options ? { options: m.options } : {}),
      },
      where,
    );
  });
  return { modules: out };
}
