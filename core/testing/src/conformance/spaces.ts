/**
 * Fixture search spaces for strategy tests, over the tiny fixture's attachment points (they follow
 * the shapes of BIPEFT's spaces without depending on its plugin):
 *
 * - `s1-like`: LoRA (ranks 1, 2, 4) on the attention q/k/v/o and FFN in/out projections, low-rank
 *   adapters (ranks 1, 2) after both sublayers, BitFit on those projections and the LayerNorms,
 *   LNFit on the LayerNorms: ranked and unranked candidates mixed;
 * - `s2-like`: serial and parallel adapters (bottlenecks 1, 2, 4) on the FFN sublayer and a gated
 *   prefix (lengths 1, 2) on the attention;
 * - `lora-only`: LoRA (ranks 1, 2, 4) on every projection;
 * - `none`: no candidates (strategies that build their own architectures: manual, AdaLoRA).
 */
import type { BackboneInfo, Candidate, ModuleTypes, SpaceDefinition } from '@peftkit/api';
import { matchPoints, moduleId } from '@peftkit/api';

export type FixtureSpaceName = 's1-like' | 's2-like' | 'lora-only' | 'none';

interface Entry {
  type: string;
  targets: string[];
  ranks: number[] | null;
  options?: Record<string, unknown>;
}

const PROJECTIONS = ['layer.*.attn.{q,k,v,o}', 'layer.*.ffn.{in,out}'];
const NORMS = ['layer.*.ln_{attn,ffn}'];

const ENTRIES: Record<FixtureSpaceName, readonly Entry[]> = {
  's1-like': [
    { type: 'lora', targets: PROJECTIONS, ranks: [1, 2, 4] },
    { type: 'lowrank-adapter', targets: ['layer.*.{attn,ffn}.sublayer'], ranks: [1, 2] },
    { type: 'bitfit', targets: [...PROJECTIONS, ...NORMS], ranks: null },
    { type: 'lnfit', targets: NORMS, ranks: null },
  ],
  's2-like': [
    { type: 'adapter', targets: ['layer.*.ffn.sublayer'], ranks: [1, 2, 4] },
    { type: 'parallel-adapter', targets: ['layer.*.ffn.sublayer'], ranks: [1, 2, 4] },
    { type: 'prefix', targets: ['layer.*.attn.scores'], ranks: [1, 2], options: { style: 'gated' } },
  ],
  'lora-only': [{ type: 'lora', targets: PROJECTIONS, ranks: [1, 2, 4] }],
  none: [],
};

export const FIXTURE_SPACE_NAMES = Object.keys(ENTRIES) as FixtureSpaceName[];

/** Build a fixture space on a backbone with the given module types (each must be registered). */
export function fixtureSpace(
  name: FixtureSpaceName,
  backbone: BackboneInfo,
  types: ModuleTypes,
): SpaceDefinition {
  const entries = ENTRIES[name];
  if (!entries) throw new Error(`unknown fixture space "${name}" (known: ${FIXTURE_SPACE_NAMES.join(', ')})`);
  const missing = entries.map((e) => e.type).filter((t) => !types.names().includes(t));
  if (missing.length > 0) {
    throw new Error(
      `fixture space ${name} needs the module types ${[...new Set(missing)].join(', ')} ` +
        `(pass them in the suite's types, e.g. @peftkit/plugin-peft-modules' builtinModuleTypes)`,
    );
  }
  const candidates: Candidate[] = [];
  for (const e of entries) {
    const type = types.get(e.type);
    for (const p of matchPoints(e.targets, backbone.points, type.attachesTo).filter((q) => type.accepts(q))) {
      candidates.push({
        id: moduleId(e.type, p.name),
        type: e.type,
        point: p.name,
        ranks: e.ranks,
        options: e.options ?? {},
      });
    }
  }
  return { name, candidates };
}
