/**
 * The one implementation of parameter arithmetic and initialisation (ModuleToolkit): search spaces,
 * schedulers, strategies, export and reports all count parameters through it.
 */
import type {
  Architecture,
  AttachmentPoint,
  Backbone,
  ModuleToolkit,
  ModuleTypes,
  ParamSet,
  ParamSpec,
  ProgramSpec,
  TaskHead,
  TaskInfo,
} from '@peftkit/api';
import { Rng, moduleId } from '@peftkit/api';
import { taskHeadOf } from './program.js';

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class PeftToolkit implements ModuleToolkit {
  private readonly points: Map<string, AttachmentPoint>;

  constructor(
    private readonly backbone: Backbone,
    private readonly task: TaskInfo,
    readonly types: ModuleTypes,
  ) {
    this.points = new Map(backbone.info.points.map((p) => [p.name, p]));
  }

  point(name: string): AttachmentPoint {
    const p = this.points.get(name);
    if (!p) throw new Error(`backbone ${this.backbone.info.name} has no attachment point "${name}"`);
    return p;
  }

  specs(
    type: string,
    point: string,
    rank: number | null,
    options: Record<string, unknown> = {},
  ): ParamSpec[] {
    const id = moduleId(type, point);
    return this.types
      .get(type)
      .params(this.point(point), rank, options)
      .map((s) => ({ ...s, name: `${id}/${s.name}` }));
  }

  count(type: string, point: string, rank: number | null, options: Record<string, unknown> = {}): number {
    return this.types
      .get(type)
      .params(this.point(point), rank, options)
      .reduce((a, s) => a + sizeOf(s.shape), 0);
  }

  countArchitecture(arch: Architecture): number {
    return arch.modules.reduce((a, m) => a + this.count(m.type, m.point, m.rank, m.options ?? {}), 0);
  }

  /** The task head (the backbone's own, or peftkit's linear head). */
  head(): TaskHead {
    return taskHeadOf(this.backbone, this.task);
  }

  /** The task head's tensors by full name (`head/weight`) and shape. */
  headSpecs(): ParamSpec[] {
    return this.head().params.map((p) => ({ name: `head/${p.name}`, shape: p.shape }));
  }

  /** Parameters of the task head (always trained, not counted against the PEFT budget). */
  headParams(): number {
    return this.headSpecs().reduce((a, s) => a + sizeOf(s.shape), 0);
  }

  init(program: ProgramSpec, rng: Rng): ParamSet {
    const out: ParamSet = {};
    // Each module draws from its own stream derived from the run stream and its id, so a module's
    // initial values do not depend on which other modules the program contains.
    const base = rng.nextUint32();
    for (const m of program.modules) {
      const id = moduleId(m.type, m.point);
      const type = this.types.get(m.type);
      const point = this.point(m.point);
      const values = type.init(
        point,
        m.rank,
        m.options ?? {},
        new Rng(base).fork(id),
        this.backbone.pretrained(m.point),
      );
      for (const s of type.params(point, m.rank, m.options ?? {})) {
        const v = values[s.name];
        if (!v || v.length !== sizeOf(s.shape)) {
          throw new Error(
            `module type ${m.type}: init() returned ${v ? v.length : 'no'} values for ${s.name}, expected ${sizeOf(s.shape)}`,
          );
        }
        out[`${id}/${s.name}`] = v;
      }
    }
    const head = this.head();
    const values = head.init(new Rng(base).fork('head'));
    for (const p of head.params) {
      const v = values[p.name];
      if (!v || v.length !== sizeOf(p.shape))
        throw new Error(`task head: init() returned ${v ? v.length : 'no'} values for ${p.name}`);
      out[`head/${p.name}`] = v;
    }
    return out;
  }

  slice(
    params: ParamSet,
    type: string,
    point: string,
    from: number,
    to: number,
    options: Record<string, unknown> = {},
  ): ParamSet {
    if (to > from) throw new Error(`cannot slice ${moduleId(type, point)} from rank ${from} up to ${to}`);
    const id = moduleId(type, point);
    const t = this.types.get(type);
    const p = this.point(point);
    const big = t.params(p, from, options);
    const small = new Map(t.params(p, to, options).map((s) => [s.name, s]));
    const out: ParamSet = {};
    // Slices whichever of the module's tensors `params` holds (all its parameters, or an optimiser
    // buffer keyed by one parameter name).
    for (const s of big) {
      const src = params[`${id}/${s.name}`];
      if (!src) continue;
      const target = small.get(s.name)!;
      out[`${id}/${s.name}`] =
        s.rankAxis === undefined ? src.slice() : sliceLeading(src, s.shape, target.shape, s.rankAxis);
    }
    if (Object.keys(out).length === 0) throw new Error(`no parameter of ${id} to slice`);
    return out;
  }
}

/** Copy the leading block of `src` (shape `from`) into shape `to`, which differs only on `axis`. */
export function sliceLeading(
  src: Float32Array,
  from: readonly number[],
  to: readonly number[],
  axis: number,
): Float32Array {
  const outer = from.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = from.slice(axis + 1).reduce((a, b) => a * b, 1);
  const nFrom = from[axis]!;
  const nTo = to[axis]!;
  const out = new Float32Array(outer * nTo * inner);
  for (let o = 0; o < outer; o++) {
    out.set(src.subarray(o * nFrom * inner, o * nFrom * inner + nTo * inner), o * nTo * inner);
  }
  return out;
}

/** Write a small tensor into the leading block of a larger one (the inverse of sliceLeading). */
export function embedLeading(
  dst: Float32Array,
  big: readonly number[],
  small: Float32Array,
  smallShape: readonly number[],
  axis: number,
): void {
  const outer = big.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = big.slice(axis + 1).reduce((a, b) => a * b, 1);
  const nBig = big[axis]!;
  const nSmall = smallShape[axis]!;
  for (let o = 0; o < outer; o++) {
    dst.set(small.subarray(o * nSmall * inner, (o + 1) * nSmall * inner), o * nBig * inner);
  }
}
