/**
 * The program builder: backbone + PEFT modules + task head + loss (+ gradients) as one graph.
 *
 * Graph inputs (all names are stable; the executor feeds them):
 *   input_ids int64 [B, T], attention_mask float [B, T]           every program
 *   token_type_ids int64 [B, T]                                    joint sentence-pair encoders
 *   input_ids_b, attention_mask_b                                  separately encoded pairs
 *   labels int64 [B] (classification) | float [B] (regression)      train programs
 *   <module id>/<local>, head/<local> (head/weight, head/bias)     trainable parameters
 *   gates, gates_detached [G]                                      if any module is gated
 *   rank_masks, rank_masks_detached [R]                            if any module is rank-masked
 * Outputs: logits ([B, C], or [B] for regression); train programs add loss and `grad:<input>`
 * for every parameter, `grad:gates` and `grad:rank_masks`.
 *
 * Gates and rank masks are graph inputs fed every step, so one compiled program serves every
 * sampled architecture of a supernet; relaxations (Gumbel-softmax, sigmoids) live in the strategy.
 */
import type {
  AttachmentPoint,
  AttentionKV,
  Backbone,
  EncoderHooks,
  HookResult,
  HookSite,
  ModuleBuildContext,
  ModuleTypes,
  ParamSet,
  PeftModuleType,
  ProgramModule,
  ProgramSpec,
  TaskHead,
  TaskInfo,
} from '@peftkit/api';
import { moduleId } from '@peftkit/api';
import { Graph, type Value, gradients, ops } from '@peftkit/graph';
import { frozenWeight } from './hooks.js';

export interface ProgramContext {
  readonly backbone: Backbone;
  readonly task: TaskInfo;
  readonly types: ModuleTypes;
}

export interface ProgramLayout {
  /** Trainable parameter inputs, in graph order. */
  readonly params: readonly { name: string; shape: readonly number[] }[];
  /** Module ids of gated modules, in the order of the `gates` input. */
  readonly gated: readonly string[];
  /** Rank-masked modules and their slice of the `rank_masks` input. */
  readonly rankMasked: readonly { id: string; offset: number; length: number }[];
  readonly pairInputs: 'none' | 'joint' | 'separate';
  readonly labelType: 'int64' | 'float32';
}

export interface BuiltProgram {
  readonly graph: Graph;
  readonly layout: ProgramLayout;
}

/** Canonical key of a program spec (programs with equal keys share a compiled session). */
export function programKey(spec: ProgramSpec, mode: 'train' | 'eval'): string {
  const mods = spec.modules
    .map((m) => ({ ...m, options: m.options ?? {}, gated: !!m.gated, rankMasked: !!m.rankMasked }))
    .sort((a, b) => (moduleId(a.type, a.point) < moduleId(b.type, b.point) ? -1 : 1));
  return `${mode}:${JSON.stringify(mods)}`;
}

/** Width of the head's input: the pooled vector, or [u, v, |u-v|, u*v] for separately encoded pairs. */
export function headInputSize(backbone: Backbone, task: TaskInfo): number {
  return task.pair && backbone.info.pairEncoding === 'separate'
    ? 4 * backbone.info.pooledSize
    : backbone.info.pooledSize;
}

export function headOutputSize(task: TaskInfo): number {
  return task.type === 'regression' ? 1 : task.numClasses;
}

/**
 * The task head: the backbone's own (its model family's classification head) when it offers one,
 * else peftkit's linear layer over the pooled representation (`head/weight` [in, out], `head/bias`).
 */
export function taskHeadOf(backbone: Backbone, task: TaskInfo): TaskHead {
  const own =
    task.pair && backbone.info.pairEncoding === 'separate'
      ? undefined
      : backbone.taskHead?.(headOutputSize(task));
  return own ?? linearHead(headInputSize(backbone, task), headOutputSize(task));
}

/** peftkit's default head: one linear layer, initialised as torch.nn.Linear. */
export function linearHead(inSize: number, outSize: number): TaskHead {
  return {
    description: `linear ${inSize} -> ${outSize}`,
    params: [
      { name: 'weight', shape: [inSize, outSize] },
      { name: 'bias', shape: [outSize] },
    ],
    init(rng) {
      // torch.nn.Linear's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
      const bound = 1 / Math.sqrt(inSize);
      return {
        weight: Float32Array.from({ length: inSize * outSize }, () => rng.uniform(-bound, bound)),
        bias: Float32Array.from({ length: outSize }, () => rng.uniform(-bound, bound)),
      };
    },
    apply: (_g, pooled, param) => ops.add(ops.matmul(pooled, param('weight')), param('bias')),
    externalName: (name) => ({ name, transpose: name === 'weight' }),
    externalModules: [],
  };
}

interface ModuleEntry {
  readonly id: string;
  readonly type: PeftModuleType;
  readonly spec: ProgramModule;
  readonly point: AttachmentPoint;
  readonly ctx: ModuleBuildContext;
}

function validateSpec(ctx: ProgramContext, spec: ProgramSpec): Map<string, AttachmentPoint> {
  const points = new Map(ctx.backbone.info.points.map((p) => [p.name, p]));
  const seen = new Set<string>();
  for (const m of spec.modules) {
    const id = moduleId(m.type, m.point);
    if (seen.has(id)) throw new Error(`program lists module ${id} twice`);
    seen.add(id);
    const type = ctx.types.get(m.type);
    const point = points.get(m.point);
    if (!point)
      throw new Error(
        `module ${id}: backbone ${ctx.backbone.info.name} has no attachment point "${m.point}"`,
      );
    if (!type.attachesTo.includes(point.kind) || !type.accepts(point)) {
      throw new Error(`module ${id}: ${m.type} cannot attach to ${point.kind} point ${m.point}`);
    }
    if (type.ranked !== (m.rank !== null)) {
      throw new Error(`module ${id}: ${type.ranked ? 'needs a rank' : 'takes no rank'}, got ${m.rank}`);
    }
    if (m.rankMasked && !type.ranked) throw new Error(`module ${id}: only ranked modules can be rank-masked`);
  }
  return points;
}

export interface BuildProgramOptions {
  /**
   * Bake these parameter values in as initializers instead of graph inputs (a standalone inference
   * model for export).
   */
  inlineParams?: ParamSet;
  /** With inlineParams: fold modules that can be merged (LoRA, BitFit, LNFit) into frozen weights. */
  merge?: boolean;
  /**
   * Attention masks as int64 inputs (cast to float inside), as Hugging Face tokenizers and optimum
   * feed them: for exported inference models.
   */
  int64Masks?: boolean;
}

/**
 * Build the graph of `spec` in `mode`. Train programs include the loss and the gradients of every
 * trainable input (parameters, gates, rank masks).
 */
export function buildProgram(
  ctx: ProgramContext,
  spec: ProgramSpec,
  mode: 'train' | 'eval',
  opts: BuildProgramOptions = {},
): BuiltProgram {
  if (opts.inlineParams && mode === 'train')
    throw new Error('inlined parameters only make sense in eval programs');
  if (opts.inlineParams && spec.modules.some((m) => m.gated || m.rankMasked)) {
    throw new Error('a program with inlined parameters cannot have gates or rank masks');
  }
  const points = validateSpec(ctx, spec);
  const { backbone, task } = ctx;
  const g = new Graph(mode === 'train' ? 'peftkit-train' : 'peftkit-eval');
  const train = mode === 'train';

  // Batch inputs.
  const maskInput = (name: string): Value =>
    opts.int64Masks
      ? ops.cast(g.input(name, 'int64', ['B', 'T']), 'float32')
      : g.input(name, 'float32', ['B', 'T']);
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const mask = maskInput('attention_mask');
  const pairInputs: ProgramLayout['pairInputs'] = task.pair ? backbone.info.pairEncoding : 'none';
  const typeIds = pairInputs === 'joint' ? g.input('token_type_ids', 'int64', ['B', 'T']) : undefined;
  const idsB = pairInputs === 'separate' ? g.input('input_ids_b', 'int64', ['B', 'T']) : undefined;
  const maskB = pairInputs === 'separate' ? maskInput('attention_mask_b') : undefined;
  const labelType = task.type === 'regression' ? 'float32' : 'int64';
  const labels = train ? g.input('labels', labelType, ['B']) : undefined;

  // Architecture inputs.
  const gatedMods = spec.modules.filter((m) => m.gated);
  const maskedMods = spec.modules.filter((m) => m.rankMasked);
  const split1 = (name: string, n: number): { grad: Value[]; detached: Value[]; input: Value | null } => {
    if (n === 0) return { grad: [], detached: [], input: null };
    const input = g.input(name, 'float32', [n]);
    const det = g.input(`${name}_detached`, 'float32', [n]);
    const pieces = (v: Value) =>
      (n === 1 ? [v] : ops.split(v, new Array(n).fill(1), 0)).map((p) => ops.reshape(p, []));
    return { grad: pieces(input), detached: pieces(det), input };
  };
  const gates = split1('gates', gatedMods.length);
  const rankLayout: { id: string; offset: number; length: number }[] = [];
  let off = 0;
  for (const m of maskedMods) {
    rankLayout.push({ id: moduleId(m.type, m.point), offset: off, length: m.rank! });
    off += m.rank!;
  }
  let rankMasks: { grad: Value[]; detached: Value[]; input: Value | null } = {
    grad: [],
    detached: [],
    input: null,
  };
  if (off > 0) {
    const input = g.input('rank_masks', 'float32', [off]);
    const det = g.input('rank_masks_detached', 'float32', [off]);
    const lens = maskedMods.map((m) => m.rank!);
    const pieces = (v: Value) => (lens.length === 1 ? [v] : ops.split(v, lens, 0));
    rankMasks = { grad: pieces(input), detached: pieces(det), input };
  }

  // Modules, grouped by attachment point in composition order.
  const params: Value[] = [];
  const makeParam = (name: string, shape: readonly number[]): Value => {
    if (!opts.inlineParams) return g.param(name, shape);
    const data = opts.inlineParams[name];
    if (!data) throw new Error(`missing parameter ${name}`);
    return g.initializer(name, { dtype: 'float32', shape: [...shape], data });
  };
  const merged = new Set<string>();
  const byPoint = new Map<string, ModuleEntry[]>();
  spec.modules.forEach((m) => {
    const id = moduleId(m.type, m.point);
    const type = ctx.types.get(m.type);
    const point = points.get(m.point)!;
    const specs = new Map(type.params(point, m.rank, m.options ?? {}).map((p) => [p.name, p]));
    const created = new Map<string, Value>();
    const gi = gatedMods.indexOf(m);
    const ri = maskedMods.indexOf(m);
    const mctx: ModuleBuildContext = {
      g,
      point,
      rank: m.rank,
      options: m.options ?? {},
      train,
      param(local: string): Value {
        let v = created.get(local);
        if (!v) {
          const s = specs.get(local);
          if (!s)
            throw new Error(
              `module ${id}: ${m.type} has no parameter "${local}" (it declares ${[...specs.keys()].join(', ')})`,
            );
          v = makeParam(`${id}/${local}`, s.shape);
          created.set(local, v);
          if (!opts.inlineParams) params.push(v);
        }
        return v;
      },
      gate: gi >= 0 ? gates.grad[gi]! : null,
      gateDetached: gi >= 0 ? gates.detached[gi]! : null,
      rankMask: ri >= 0 ? rankMasks.grad[ri]! : null,
      rankMaskDetached: ri >= 0 ? rankMasks.detached[ri]! : null,
    };
    // Create parameters up front in declaration order, so the input order is stable.
    if (!opts.inlineParams) for (const s of specs.values()) mctx.param(s.name);
    const list = byPoint.get(m.point) ?? [];
    list.push({ id, type, spec: m, point, ctx: mctx });
    byPoint.set(m.point, list);
  });
  for (const list of byPoint.values())
    list.sort((a, b) => a.type.order - b.type.order || (a.id < b.id ? -1 : 1));

  const apply = <T extends HookResult>(point: string, site: HookSite, current: T): T => {
    const list = byPoint.get(point);
    if (!list) return current;
    let value: HookResult = current;
    for (const e of list) {
      if (merged.has(e.id)) continue;
      const s = withCurrent(site, value);
      value = g.scoped(e.id, () => e.type.apply(e.ctx, s));
    }
    return value as T;
  };

  const frozen = new Map<string, Value>();
  const hooks: EncoderHooks = {
    weight: (point, role, data) => {
      if (opts.merge && opts.inlineParams && !frozen.has(`${point}.${role}`)) {
        // Fold mergeable modules of this point into the frozen tensor (in composition order).
        for (const e of byPoint.get(point) ?? []) {
          // A module may fold into several tensors of its point (full fine-tuning: weight and bias);
          // the frozen-cache check above already keeps a tensor from being folded twice.
          if (!e.type.merge) continue;
          const local: Record<string, Float32Array> = {};
          for (const p of e.type.params(e.point, e.spec.rank, e.spec.options ?? {}))
            local[p.name] = opts.inlineParams[`${e.id}/${p.name}`]!;
          const folded = e.type.merge(e.point, e.spec.rank, e.spec.options ?? {}, local, role, data);
          if (folded) {
            data = folded;
            merged.add(e.id);
          }
        }
      }
      const v = frozenWeight(g, frozen, point, role, data);
      return apply(point, { kind: 'weight', role, frozen: data, value: v }, v);
    },
    linear: (point, x, y) => apply(point, { kind: 'linear', x, y }, y),
    layerNorm: (point, x, y, epsilon) => apply(point, { kind: 'layernorm', x, y, epsilon }, y),
    sublayer: (point, x, y) => apply(point, { kind: 'sublayer', x, y }, y),
    attentionKeys: (point, kv) => apply<AttentionKV>(point, { kind: 'attention-keys', kv }, kv),
    attentionContext: (point, q, context, scale) =>
      apply(point, { kind: 'attention-context', q, context, scale }, context),
  };

  // Encoder(s) and head.
  let features: Value;
  if (pairInputs === 'separate') {
    const u = backbone.encode(g, { ids, mask }, hooks, { train });
    const v = backbone.encode(g, { ids: idsB!, mask: maskB! }, hooks, { train });
    features = ops.concat([u, v, ops.abs(ops.sub(u, v)), ops.mul(u, v)], 1);
  } else {
    features = backbone.encode(g, { ids, mask, typeIds }, hooks, { train });
  }
  const head = taskHeadOf(backbone, task);
  const headParams = new Map<string, Value>();
  for (const p of head.params) {
    const v = makeParam(`head/${p.name}`, p.shape);
    headParams.set(p.name, v);
    if (!opts.inlineParams) params.push(v);
  }
  let logits = head.apply(
    g,
    features,
    (name) => {
      const v = headParams.get(name);
      if (!v) throw new Error(`task head: no parameter "${name}"`);
      return v;
    },
    { train },
  );
  if (task.type === 'regression') logits = ops.reshape(logits, ['B']);
  g.output(logits, 'logits');

  if (train) {
    let loss: Value;
    if (task.type === 'regression') {
      const d = ops.sub(logits, labels!);
      loss = ops.reduceMean(ops.mul(d, d), null, false);
    } else {
      loss = ops.softmaxCrossEntropy(logits, labels!);
    }
    g.output(loss, 'loss');
    const wrt = [
      ...params,
      ...(gates.input ? [gates.input] : []),
      ...(rankMasks.input ? [rankMasks.input] : []),
    ];
    const grads = gradients(loss, wrt);
    for (const w of wrt) g.output(grads.get(w)!, `grad:${w.name}`);
  }

  return {
    graph: g,
    layout: {
      params: params.map((p) => ({ name: p.name, shape: p.shape as number[] })),
      gated: gatedMods.map((m) => moduleId(m.type, m.point)),
      rankMasked: rankLayout,
      pairInputs,
      labelType,
    },
  };
}

function withCurrent(site: HookSite, current: HookResult): HookSite {
  switch (site.kind) {
    case 'weight':
      return { ...site, value: current as Value };
    case 'linear':
    case 'layernorm':
    case 'sublayer':
      return { ...site, y: current as Value };
    case 'attention-keys':
      return { ...site, kv: current as AttentionKV };
    case 'attention-context':
      return { ...site, context: current as Value };
  }
}
