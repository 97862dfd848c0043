/**
 * The benchmark encoder as a peftkit `Backbone`, so that the engine can search PEFT modules on it
 * (`peftkit bench search`): the same layers and random weights as the train-step benchmark, the
 * attachment points of a BERT encoder, masked mean pooling, and a tokenizer that reads texts of
 * space-separated token ids (the synthetic tasks of the benchmark are written that way).
 */
import type {
  AttachmentPoint,
  Backbone,
  BackboneInfo,
  BuildOptions,
  EncoderHooks,
  EncoderInputs,
  Tokenizer,
  WeightRole,
} from '@peftkit/api';
import type { Graph, TensorData, Value } from '@peftkit/graph';
import { maskedMeanPool } from '@peftkit/nn';
import { type EncoderConfig, type FrozenWeights, encodeBert } from './model.js';

/** The attachment points `encodeBert` passes to its hooks, in graph order. */
export function benchPoints(cfg: EncoderConfig): AttachmentPoint[] {
  const H = cfg.hidden;
  const lin = (name: string, layer: number, inF: number, outF: number): AttachmentPoint => ({
    name,
    kind: 'linear',
    layer,
    inFeatures: inF,
    outFeatures: outF,
    hasBias: true,
  });
  const points: AttachmentPoint[] = [
    { name: 'embeddings.word', kind: 'embedding', rows: cfg.vocab, features: H },
    { name: 'embeddings.position', kind: 'embedding', rows: cfg.maxPositions, features: H },
    { name: 'embeddings.ln', kind: 'layernorm', features: H, hasBias: true },
  ];
  for (let i = 0; i < cfg.layers; i++) {
    const p = `layer.${i}`;
    points.push(
      lin(`${p}.attn.q`, i, H, H),
      lin(`${p}.attn.k`, i, H, H),
      lin(`${p}.attn.v`, i, H, H),
      {
        name: `${p}.attn.scores`,
        kind: 'attention',
        layer: i,
        heads: cfg.heads,
        headDim: H / cfg.heads,
        features: H,
      },
      lin(`${p}.attn.o`, i, H, H),
      { name: `${p}.attn.sublayer`, kind: 'sublayer', layer: i, features: H },
      { name: `${p}.ln_attn`, kind: 'layernorm', layer: i, features: H, hasBias: true },
      lin(`${p}.ffn.in`, i, H, cfg.ffn),
      lin(`${p}.ffn.out`, i, cfg.ffn, H),
      { name: `${p}.ffn.sublayer`, kind: 'sublayer', layer: i, features: H },
      { name: `${p}.ln_ffn`, kind: 'layernorm', layer: i, features: H, hasBias: true },
    );
  }
  if (cfg.norm === 'pre') points.push({ name: 'final_ln', kind: 'layernorm', features: H, hasBias: true });
  return points;
}

/** Texts are token ids separated by spaces ("17 4 981"); nothing is added around them. */
class IdTokenizer implements Tokenizer {
  readonly padId = 0;
  constructor(readonly vocabSize: number) {}
  encode(text: string, _pair?: string, maxLength?: number): { ids: number[] } {
    const ids = text
      .split(' ')
      .filter((t) => t.length > 0)
      .map((t) => {
        const id = Number(t);
        if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
          throw new RangeError(`bench tokenizer: "${t}" is not a token id below ${this.vocabSize}`);
        return id;
      });
    return { ids: maxLength === undefined ? ids : ids.slice(0, maxLength) };
  }
}

export class BenchBackbone implements Backbone {
  readonly info: BackboneInfo;
  readonly tokenizer: Tokenizer;
  private readonly byPoint = new Map<string, Partial<Record<WeightRole, TensorData>>>();

  constructor(
    readonly cfg: EncoderConfig,
    private readonly weights: FrozenWeights,
  ) {
    this.tokenizer = new IdTokenizer(cfg.vocab);
    this.info = {
      name: 'bench-bert',
      modelType: 'bert',
      numLayers: cfg.layers,
      pooledSize: cfg.hidden,
      params: weights.count,
      maxLength: cfg.maxPositions,
      pairEncoding: 'joint',
      points: benchPoints(cfg),
    };
    const ln = (t: { scale: TensorData; shift: TensorData }) => ({ scale: t.scale, shift: t.shift });
    this.byPoint.set('embeddings.word', { table: weights.word });
    this.byPoint.set('embeddings.position', { table: weights.position });
    this.byPoint.set('embeddings.ln', ln(weights.embLn));
    this.byPoint.set('final_ln', ln(weights.finalLn));
    weights.layers.forEach((L, i) => {
      const p = `layer.${i}`;
      for (const [name, lin] of [
        ['attn.q', L.q],
        ['attn.k', L.k],
        ['attn.v', L.v],
        ['attn.o', L.o],
        ['ffn.in', L.ffnIn],
        ['ffn.out', L.ffnOut],
      ] as const)
        this.byPoint.set(`${p}.${name}`, { weight: lin.weight, bias: lin.bias });
      this.byPoint.set(`${p}.ln_attn`, ln(L.lnAttn));
      this.byPoint.set(`${p}.ln_ffn`, ln(L.lnFfn));
    });
  }

  encode(g: Graph, inputs: EncoderInputs, hooks: EncoderHooks, opts: BuildOptions): Value {
    const h = encodeBert({ g, hooks, train: opts.train }, this.cfg, this.weights, inputs.ids, inputs.mask);
    return maskedMeanPool(h, inputs.mask);
  }

  pretrained(point: string): Partial<Record<WeightRole, TensorData>> {
    return { ...(this.byPoint.get(point) ?? {}) };
  }
}
