/**
 * AutoPEFT configurations over a search space: one global size per module type (0 = absent) and one
 * insert flag per layer, shared by the module types (cambridgeltl/autopeft's
 * `log2_reduction_*` and `leave_out_i` hyperparameters). A configuration decodes to an architecture
 * (every candidate of a present type in a flagged layer, at the type's size) and encodes to a point
 * of [0, 1]^D for the surrogate: size indices scaled to [0, 1] (ordinal, as ConfigSpace's vector
 * form of integer hyperparameters), flags as 0/1.
 */
import type { Architecture, AttachmentPoint, Candidate, Rng } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';

export interface Config {
  /** Per module type: index into its values (0 = absent). */
  sizes: number[];
  /** Per layer: insert the modules there. */
  layers: boolean[];
}

interface Member {
  candidate: Candidate;
  type: number;
  /** Index into `layers`, or null for a point outside the layers (controlled by its type only). */
  layer: number | null;
}

export class ConfigLayout {
  readonly types: string[] = [];
  /** Per type: the values its size index selects ([0, ...ranks]; [0, 1] for unranked types). */
  readonly values: number[][] = [];
  /** Layer numbers of the backbone that hold candidates, ascending. */
  readonly layers: number[];
  private readonly members: Member[] = [];

  constructor(candidates: readonly Candidate[], points: readonly AttachmentPoint[]) {
    const byName = new Map(points.map((p) => [p.name, p]));
    const layerSet = new Set<number>();
    for (const c of candidates) {
      const l = byName.get(c.point)?.layer;
      if (l !== undefined) layerSet.add(l);
    }
    this.layers = [...layerSet].sort((a, b) => a - b);
    for (const c of candidates) {
      let t = this.types.indexOf(c.type);
      const values = [0, ...(c.ranks ?? [1])];
      if (t < 0) {
        t = this.types.length;
        this.types.push(c.type);
        this.values.push(values);
      } else if (this.values[t]!.join() !== values.join()) {
        throw new ConfigError(
          `candidate ${c.id} offers sizes [${values.slice(1).join(', ')}] but other ${c.type} candidates offer [${this.values[t]!.slice(1).join(', ')}]; AutoPEFT chooses one global size per module type`,
          undefined,
          'space',
        );
      }
      const l = byName.get(c.point)?.layer;
      this.members.push({ candidate: c, type: t, layer: l === undefined ? null : this.layers.indexOf(l) });
    }
  }

  /** Number of encoded dimensions: one per type and one per layer. */
  get dimension(): number {
    return this.types.length + this.layers.length;
  }

  architecture(c: Config): Architecture {
    const modules = [];
    for (const m of this.members) {
      const value = this.values[m.type]![c.sizes[m.type]!]!;
      if (value === 0 || (m.layer !== null && !c.layers[m.layer])) continue;
      const cand = m.candidate;
      modules.push({
        type: cand.type,
        point: cand.point,
        rank: cand.ranks ? value : null,
        ...(Object.keys(cand.options).length
          ? { options: { ...(cand.options as Record<string, unknown>) } }
          : {}),
      });
    }
    return { modules };
  }

  encode(c: Config): number[] {
    return [
      ...c.sizes.map((s, t) => (this.values[t]!.length > 1 ? s / (this.values[t]!.length - 1) : 0)),
      ...c.layers.map((on) => (on ? 1 : 0)),
    ];
  }

  /**
   * The one representative of configurations that decode to no module at all (every size 0, or
   * every layer off): all sizes 0 and all flags off. Other configurations decode to distinct
   * architectures, so canonical keys identify architectures.
   */
  canonical(c: Config): Config {
    const noLayer = this.members.every((m) => m.layer !== null) && c.layers.every((on) => !on);
    if (!noLayer && c.sizes.some((s) => s > 0)) return c;
    return { sizes: c.sizes.map(() => 0), layers: c.layers.map(() => false) };
  }

  key(c: Config): string {
    return `${c.sizes.join(',')}|${c.layers.map((on) => (on ? 1 : 0)).join('')}`;
  }

  /** Human-readable form: sizes by type name and the flagged layers. */
  describe(c: Config): { sizes: Record<string, number>; layers: number[] } {
    const sizes: Record<string, number> = {};
    this.types.forEach((t, i) => (sizes[t] = this.values[i]![c.sizes[i]!]!));
    return { sizes, layers: this.layers.filter((_, i) => c.layers[i]) };
  }

  /** Uniform over size indices and flags (as ConfigSpace's sample_configuration). */
  random(rng: Rng): Config {
    return this.canonical({
      sizes: this.values.map((v) => rng.int(v.length)),
      layers: this.layers.map(() => rng.next() < 0.5),
    });
  }

  /** Canonical forms of `configs`, without repeats, in order. */
  private distinct(configs: Config[]): Config[] {
    const seen = new Set<string>();
    const out: Config[] = [];
    for (const c of configs.map((x) => this.canonical(x))) {
      const k = this.key(c);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(c);
    }
    return out;
  }

  /** One-exchange neighbours: a type's size one step up or down, or one layer flag flipped. */
  neighbours(c: Config): Config[] {
    const out: Config[] = [];
    c.sizes.forEach((s, t) => {
      for (const d of [-1, 1]) {
        const n = s + d;
        if (n < 0 || n >= this.values[t]!.length) continue;
        out.push({ sizes: c.sizes.map((x, i) => (i === t ? n : x)), layers: c.layers.slice() });
      }
    });
    c.layers.forEach((_, l) =>
      out.push({ sizes: c.sizes.slice(), layers: c.layers.map((x, i) => (i === l ? !x : x)) }),
    );
    const self = this.key(this.canonical(c));
    return this.distinct(out).filter((n) => this.key(n) !== self);
  }

  /** Configurations one step smaller: a size one step down, or an active layer switched off. */
  reductions(c: Config): Config[] {
    const out: Config[] = [];
    c.sizes.forEach((s, t) => {
      if (s > 0) out.push({ sizes: c.sizes.map((x, i) => (i === t ? s - 1 : x)), layers: c.layers.slice() });
    });
    c.layers.forEach((on, l) => {
      if (on) out.push({ sizes: c.sizes.slice(), layers: c.layers.map((x, i) => (i === l ? false : x)) });
    });
    return this.distinct(out);
  }
}
