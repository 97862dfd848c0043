/**
 * Optimiser updates checked against values computed by hand (float64) from PyTorch's documented
 * formulas; the intermediate numbers are in the comments. Parameters and buffers are float32, so
 * the comparisons use a 1e-6 tolerance.
 */
import { expect } from 'chai';
import { ConfigError, Rng, type ParamSet, type TrainRecipe } from '@peftkit/api';
import { AdamFamily, Sgd, createOptimizer, type Optimizer } from '../src/index.js';

const TOL = 1e-6;

function expectClose(actual: Float32Array, expected: readonly number[], tol = TOL): void {
  expect(actual.length).to.equal(expected.length);
  expected.forEach((x, i) => expect(actual[i], `element ${i}`).to.be.closeTo(x, tol));
}

/** Runs `opt` on parameter `w` with one gradient per step; returns the parameter after each step. */
function run(
  opt: Optimizer,
  p0: readonly number[],
  grads: readonly (readonly number[])[],
  lr: number,
): Float32Array[] {
  const params: ParamSet = { w: Float32Array.from(p0) };
  return grads.map((g) => {
    opt.step(params, { w: Float32Array.from(g) }, lr);
    return Float32Array.from(params.w!);
  });
}

// Three steps with changing gradients on a three-element parameter (Adam family).
const P0 = [1, -2, 0.5];
const G = [
  [0.5, -1, 2],
  [-0.5, 0.25, 1],
  [1, 1, -1],
];

describe('AdamW (torch.optim.AdamW)', () => {
  it('decays decoupled from the gradient and adds eps outside the bias-corrected root', () => {
    // lr 0.1, betas (0.9, 0.999), eps 1e-3 (large, so its placement matters), wd 0.1.
    // step 1: p ← p·(1 − 0.1·0.1) = [0.99, −1.98, 0.495]
    //   m = 0.1·g1 = [0.05, −0.1, 0.2]; v = 0.001·g1² = [0.00025, 0.001, 0.004]
    //   bc1 = 0.1, bc2 = 0.001; denom = sqrt(v)/sqrt(bc2) + eps = [0.501, 1.001, 2.001]
    //   p ← p − (0.1/0.1)·m/denom = [0.99 − 0.05/0.501, −1.98 + 0.1/1.001, 0.495 − 0.2/2.001]
    //     = [0.8901996007984032, −1.8800999000999001, 0.3950499750124937]
    // step 2: p ← 0.99·p = [0.8812976047904192, −1.8612989010989012, 0.39109947526236877]
    //   m = 0.9·m − ... = [−0.005, −0.065, 0.28]; v = [0.00049975, 0.0010615, 0.004996]
    //   bc1 = 0.19, bc2 = 0.001999; denom = [0.501000000000004, 0.7297081087471751, 1.581901522806668]
    //   p = [0.8865502573799768, −1.8144164204114863, 0.29794043917321633]
    // step 3: p ← 0.99·p = [0.877684754806177, −1.7962722562073714, 0.29496103478148417]
    //   m = [0.0955, 0.0415, 0.152]; v = [0.00149925025, 0.0020604385, 0.005991004]
    //   bc1 = 0.271, bc2 = 0.002997001; denom = [0.7082836536708793, 0.8301562604665683, 1.414859846896707]
    //   p = [0.8279308854123494, −1.8147189678275726, 0.2553185493376919]
    const opt = new AdamFamily(true, { betas: [0.9, 0.999], eps: 1e-3, weightDecay: 0.1 });
    const [s1, s2, s3] = run(opt, P0, G, 0.1);
    expectClose(s1!, [0.8901996007984032, -1.8800999000999001, 0.3950499750124937]);
    expectClose(s2!, [0.8865502573799768, -1.8144164204114863, 0.29794043917321633]);
    expectClose(s3!, [0.8279308854123494, -1.8147189678275726, 0.2553185493376919]);
    const st = opt.state().params.w!;
    expect(st.step).to.equal(3);
    expectClose(st.buffers.m!, [0.0955, 0.0415, 0.152]);
    expectClose(st.buffers.v!, [0.00149925025, 0.0020604385, 0.005991004], 1e-9);
  });

  it('with a constant gradient moves each element by lr·g/(|g| + eps) after the decay', () => {
    // A constant g makes the bias-corrected moments exactly m̂ = g, v̂ = g², so
    //   p_t = p_{t−1}·(1 − lr·wd) − lr·g/(|g| + eps)
    // lr 0.01, wd 0.5, eps 1e-8, g = [2, −0.25], p0 = [1, 1]:
    //   p1 = [0.995 − 0.01, 0.995 + 0.01] = [0.985, 1.005]
    //   p2 = [0.985·0.995 − 0.01, 1.005·0.995 + 0.01] = [0.970075, 1.009975]
    //   p3 = [0.970075·0.995 − 0.01, 1.009975·0.995 + 0.01] = [0.955224625, 1.014925125]
    // (g/(|g| + 1e-8) differs from sign(g) by < 5e-8, below the tolerance.)
    const opt = new AdamFamily(true, { weightDecay: 0.5 });
    const g = [2, -0.25];
    const [s1, s2, s3] = run(opt, [1, 1], [g, g, g], 0.01);
    expectClose(s1!, [0.985, 1.005]);
    expectClose(s2!, [0.970075, 1.009975]);
    expectClose(s3!, [0.955224625, 1.014925125]);
  });

  it('defaults to PyTorch weight decay 1e-2, betas (0.9, 0.999) and eps 1e-8', () => {
    // One step, g = [1]: p ← 1·(1 − 0.1·0.01) − 0.1·1/(1 + 1e-8) = 0.999 − 0.1 = 0.899
    const [s1] = run(new AdamFamily(true), [1], [[1]], 0.1);
    expectClose(s1!, [0.899]);
  });
});

describe('Adam (torch.optim.Adam)', () => {
  it('adds weight decay to the gradient as an L2 penalty', () => {
    // Same run as the AdamW test, wd 0.1 as L2: g ← g + 0.1·p, no decoupled decay.
    // step 1: g = [0.6, −1.2, 2.05]; m = [0.06, −0.12, 0.205]; v = [0.00036, 0.00144, 0.0042025]
    //   denom = [0.601, 1.201, 2.051]; p = [1 − 0.06/0.601, −2 + 0.12/1.201, 0.5 − 0.205/2.051]
    //     = [0.9001663893510815, −1.9000832639467111, 0.4000487567040468]
    // step 2: g = [−0.40998336106489186, 0.059991673605328866, 1.0400048756704048]
    //   m = [0.01300166389351081, −0.10200083263946709, 0.2885004875670404]
    //   v = [0.000527726356350066, 0.0014421590009019696, 0.0052799076414182175]
    //   denom = [0.5148046085458148, 0.850376371558142, 1.6261998209260646]
    //   p = [0.8868740044675929, −1.8369528071829042, 0.3066762449601206]
    // step 3: g = [1.0886874004467593, 0.8163047192817096, −0.969332375503988]
    //   m = [0.12057023754883564, −0.01017027744734944, 0.16271720125993755]
    //   denom = [0.7568995671754399, 0.8394864761929406, 1.4409596482609128]
    //   p = [0.8280936001793796, −1.8324823719666155, 0.26500731427919566]
    const opt = new AdamFamily(false, { betas: [0.9, 0.999], eps: 1e-3, weightDecay: 0.1 });
    const [s1, s2, s3] = run(opt, P0, G, 0.1);
    expectClose(s1!, [0.9001663893510815, -1.9000832639467111, 0.4000487567040468]);
    expectClose(s2!, [0.8868740044675929, -1.8369528071829042, 0.3066762449601206]);
    expectClose(s3!, [0.8280936001793796, -1.8324823719666155, 0.26500731427919566]);
    // The same run under AdamW ends elsewhere (0.8279308854123494, ... above): the two decays differ.
    expect(Math.abs(s3![0]! - 0.8279308854123494)).to.be.greaterThan(1e-4);
  });

  it('amsgrad normalises by the running maximum of v', () => {
    // lr 0.01, betas (0.5, 0.9), eps 1e-8, p0 = [1, −1], g = [2, −3], [0.1, 0.2], [0.1, −0.1]
    // step 1: m = [1, −1.5]; v = vMax = [0.4, 0.9]; bc1 = 0.5, bc2 = 0.1
    //   denom = [2 + 1e-8, 3 + 1e-8]; p = [1 − 0.02·1/2, −1 + 0.02·1.5/3] = [0.99000000005, −0.9900000000333333]
    // step 2: m = [0.55, −0.65]; v = [0.361, 0.814] < vMax = [0.4, 0.9]; bc1 = 0.75, bc2 = 0.19
    //   denom = sqrt(vMax)/sqrt(0.19) = [1.4509525102200234, 2.176428760330035]
    //   p = [0.9849458488757336, −0.986017941523248]
    // step 3: m = [0.325, −0.375]; v = [0.3259, 0.7336]; vMax unchanged; bc1 = 0.875, bc2 = 0.271
    //   denom = [1.214913488461574, 1.8223702276923608]; p = [0.9818886059118834, −0.9836662161599878]
    // Without amsgrad step 3 would give [0.9812928208580685, −0.983208044808421].
    const grads = [
      [2, -3],
      [0.1, 0.2],
      [0.1, -0.1],
    ];
    const opt = new AdamFamily(false, { betas: [0.5, 0.9], amsgrad: true });
    const [s1, s2, s3] = run(opt, [1, -1], grads, 0.01);
    expectClose(s1!, [0.99000000005, -0.9900000000333333]);
    expectClose(s2!, [0.9849458488757336, -0.986017941523248]);
    expectClose(s3!, [0.9818886059118834, -0.9836662161599878]);
    expectClose(opt.state().params.w!.buffers.vMax!, [0.4, 0.9]);
    const [, , plain3] = run(new AdamFamily(false, { betas: [0.5, 0.9] }), [1, -1], grads, 0.01);
    expectClose(plain3!, [0.9812928208580685, -0.983208044808421]);
  });
});

describe('SGD (torch.optim.SGD, dampening 0)', () => {
  const g = [
    [0.5, -1],
    [-0.5, 0.25],
    [1, 1],
  ];

  it('without momentum: p ← p − lr·(g + wd·p)', () => {
    // lr 0.1, wd 0.1, p0 = [1, −2]
    // step 1: d = [0.5 + 0.1, −1 − 0.2] = [0.6, −1.2];           p = [0.94, −1.88]
    // step 2: d = [−0.5 + 0.094, 0.25 − 0.188] = [−0.406, 0.062]; p = [0.9806, −1.8862]
    // step 3: d = [1 + 0.09806, 1 − 0.18862] = [1.09806, 0.81138]; p = [0.870794, −1.967338]
    const opt = new Sgd({ weightDecay: 0.1 });
    const [s1, s2, s3] = run(opt, [1, -2], g, 0.1);
    expectClose(s1!, [0.94, -1.88]);
    expectClose(s2!, [0.9806, -1.8862]);
    expectClose(s3!, [0.870794, -1.967338]);
    expect(opt.state().params.w!.buffers).to.deep.equal({});
  });

  it('with momentum: the buffer starts as the first gradient, then buf ← μ·buf + g', () => {
    // lr 0.1, μ 0.9, p0 = [1, −2]
    // step 1: buf = g1 = [0.5, −1] (PyTorch copies the first d; not (1 − μ)·g); p = [0.95, −1.9]
    // step 2: buf = 0.9·[0.5, −1] + [−0.5, 0.25] = [−0.05, −0.65];   p = [0.955, −1.835]
    // step 3: buf = 0.9·[−0.05, −0.65] + [1, 1] = [0.955, 0.415];   p = [0.8595, −1.8765]
    const opt = new Sgd({ momentum: 0.9 });
    const [s1, s2, s3] = run(opt, [1, -2], g, 0.1);
    expectClose(s1!, [0.95, -1.9]);
    expectClose(s2!, [0.955, -1.835]);
    expectClose(s3!, [0.8595, -1.8765]);
    expectClose(opt.state().params.w!.buffers.momentum!, [0.955, 0.415]);
  });

  it('with Nesterov momentum and weight decay: p ← p − lr·(d + μ·buf)', () => {
    // lr 0.1, μ 0.9, wd 0.1, p0 = [1, −2]
    // step 1: d = [0.6, −1.2]; buf = d; d + 0.9·buf = [1.14, −2.28]; p = [0.886, −1.772]
    // step 2: d = [−0.5 + 0.0886, 0.25 − 0.1772] = [−0.4114, 0.0728]
    //   buf = 0.9·[0.6, −1.2] + d = [0.1286, −1.0072]; d + 0.9·buf = [−0.29566, −0.83368]
    //   p = [0.915566, −1.688632]
    // step 3: d = [1.0915566, 0.8311368]; buf = [1.2072966, −0.0753432]
    //   d + 0.9·buf = [2.17812354, 0.76332792]; p = [0.697753646, −1.764964792]
    const opt = new Sgd({ momentum: 0.9, nesterov: true, weightDecay: 0.1 });
    const [s1, s2, s3] = run(opt, [1, -2], g, 0.1);
    expectClose(s1!, [0.886, -1.772]);
    expectClose(s2!, [0.915566, -1.688632]);
    expectClose(s3!, [0.697753646, -1.764964792]);
  });

  it('rejects Nesterov without momentum', () => {
    expect(() => new Sgd({ nesterov: true })).to.throw(ConfigError, /nesterov/);
  });
});

describe('parameter groups', () => {
  it('set learning-rate multipliers and weight decay per name, composing by setting', () => {
    // SGD lr 0.1, wd 0.5, every gradient 1, every parameter 1:
    //   'lora/A'    : no group          p = 1 − 0.1·(1 + 0.5)   = 0.85
    //   'lora/bias' : wd 0              p = 1 − 0.1·1           = 0.9
    //   'head/weight': lrScale 3         p = 1 − 0.3·(1 + 0.5)   = 0.55
    //   'head/bias' : lrScale 3 AND wd 0 p = 1 − 0.3·1           = 0.7
    const opt = new Sgd({
      weightDecay: 0.5,
      groups: [
        { match: /^head\//, lrScale: 3 },
        { match: (n) => n.endsWith('/bias'), weightDecay: 0 },
      ],
    });
    const names = ['lora/A', 'lora/bias', 'head/weight', 'head/bias'];
    const params: ParamSet = Object.fromEntries(names.map((n) => [n, Float32Array.of(1)]));
    const grads: ParamSet = Object.fromEntries(names.map((n) => [n, Float32Array.of(1)]));
    opt.step(params, grads, 0.1);
    expectClose(params['lora/A']!, [0.85]);
    expectClose(params['lora/bias']!, [0.9]);
    expectClose(params['head/weight']!, [0.55]);
    expectClose(params['head/bias']!, [0.7]);
  });

  it('exclude a parameter from AdamW decay', () => {
    // lr 0.1, wd 0.5, g = 1, p = 1: decayed p = 1·0.95 − 0.1 = 0.85; undecayed p = 1 − 0.1 = 0.9
    const opt = new AdamFamily(true, { weightDecay: 0.5, groups: [{ match: /ln/, weightDecay: 0 }] });
    const params: ParamSet = { a: Float32Array.of(1), ln: Float32Array.of(1) };
    opt.step(params, { a: Float32Array.of(1), ln: Float32Array.of(1) }, 0.1);
    expectClose(params.a!, [0.85]);
    expectClose(params.ln!, [0.9]);
  });
});

describe('parameters over time', () => {
  it('skips parameters without a gradient, or throws when asked to', () => {
    const opt = new Sgd({ weightDecay: 1 });
    const params: ParamSet = { a: Float32Array.of(1), b: Float32Array.of(1) };
    opt.step(params, { a: Float32Array.of(0) }, 0.1);
    // a: 1 − 0.1·(0 + 1·1) = 0.9; b untouched (no decay either), and has no state.
    expectClose(params.a!, [0.9]);
    expect(params.b![0]).to.equal(1);
    expect(opt.tracked()).to.deep.equal(['a']);
    expect(() => opt.step(params, { a: Float32Array.of(0) }, 0.1, { requireAllGrads: true })).to.throw(
      /"b" has no gradient/,
    );
    expect(() => opt.step(params, { c: Float32Array.of(0) }, 0.1)).to.throw(/gradient "c" has no parameter/);
    expect(() => opt.step(params, { a: Float32Array.of(0, 0) }, 0.1)).to.throw(
      /"a" has 2 elements, parameter has 1/,
    );
    // A bad tensor anywhere in the call leaves every parameter and the state untouched.
    const before = opt.state();
    expect(() => opt.step(params, { a: Float32Array.of(1), b: Float32Array.of(1, 1) }, 0.1)).to.throw(/"b"/);
    expect(params.a![0]).to.equal(Math.fround(0.9));
    expect(opt.state()).to.deep.equal(before);
  });

  it('gives a module added later its own step count, and forgets a dropped one', () => {
    // AdamW lr 0.1, wd 0, g = 1 on every step. Step 1 of any parameter: p ← p − 0.1·1/(1 + 1e-8).
    const opt = new AdamFamily(true, { weightDecay: 0 });
    const params: ParamSet = { a: Float32Array.of(0) };
    const one = () => Float32Array.of(1);
    opt.step(params, { a: one() }, 0.1);
    opt.step(params, { a: one() }, 0.1);
    // 'b' joins at the third call: its bias corrections are those of step 1 (m̂ = g, v̂ = g²),
    // so it moves by 0.1 exactly like a fresh parameter; 'a' is at its step 3.
    params.b = Float32Array.of(0);
    opt.step(params, { a: one(), b: one() }, 0.1);
    expectClose(params.a!, [-0.3]);
    expectClose(params.b!, [-0.1]);
    expect(opt.state().params.a!.step).to.equal(3);
    expect(opt.state().params.b!.step).to.equal(1);
    // Pruned 'a' is dropped; re-added at a larger size it starts from scratch.
    opt.drop(['a']);
    expect(opt.tracked()).to.deep.equal(['b']);
    params.a = Float32Array.of(0, 0);
    opt.step(params, { a: Float32Array.of(1, 1), b: one() }, 0.1);
    expect(opt.state().params.a!.step).to.equal(1);
    expectClose(params.a!, [-0.1, -0.1]);
    // A resized parameter whose state was not dropped is an error, not a silent misuse of buffers.
    params.b = Float32Array.of(0, 0, 0);
    expect(() => opt.step(params, { b: Float32Array.of(1, 1, 1) }, 0.1)).to.throw(
      /"b".*drop its state first/,
    );
  });
});

describe('optimizer state', () => {
  /** Seeded pseudo-random gradients for two parameters of different sizes. */
  function gradients(n: number): ParamSet[] {
    const rng = new Rng(11);
    return Array.from({ length: n }, () => ({
      x: Float32Array.from({ length: 5 }, () => rng.normal()),
      y: Float32Array.from({ length: 3 }, () => rng.normal()),
    }));
  }
  const initial = (): ParamSet => ({ x: Float32Array.of(0.3, -1, 2, 0, 0.7), y: Float32Array.of(1, 1, -1) });
  const makers: [string, () => Optimizer][] = [
    ['adamw', () => new AdamFamily(true, { weightDecay: 0.1, groups: [{ match: /y/, lrScale: 0.5 }] })],
    ['adam amsgrad', () => new AdamFamily(false, { weightDecay: 0.1, amsgrad: true })],
    ['sgd nesterov', () => new Sgd({ momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
  ];

  for (const [label, make] of makers) {
    it(`${label}: 3 steps, save, restore into a fresh optimizer, 2 steps = 5 steps, bit for bit`, () => {
      const grads = gradients(5);
      const lrs = [0.05, 0.04, 0.03, 0.02, 0.01];
      const straight = make();
      const p1 = initial();
      grads.forEach((g, k) => straight.step(p1, g, lrs[k]!));

      const first = make();
      const p2 = initial();
      for (let k = 0; k < 3; k++) first.step(p2, grads[k]!, lrs[k]!);
      const state = first.state();
      const resumedParams: ParamSet = { x: Float32Array.from(p2.x!), y: Float32Array.from(p2.y!) };
      first.step(p2, grads[3]!, 123); // training on must not change a state already taken
      const resumed = make();
      resumed.restore(structuredClone(state)); // as a checkpoint file would hand it back
      for (let k = 3; k < 5; k++) resumed.step(resumedParams, grads[k]!, lrs[k]!);

      for (const name of ['x', 'y'])
        expect(Array.from(resumedParams[name]!)).to.deep.equal(Array.from(p1[name]!));
      expect(resumed.state()).to.deep.equal(straight.state());
      expect(resumed.state().steps).to.equal(5);
    });
  }

  it('rejects a state of another kind or with missing buffers', () => {
    const adam = new AdamFamily(true);
    adam.step({ w: Float32Array.of(1) }, { w: Float32Array.of(1) }, 0.1);
    expect(() => new Sgd().restore(adam.state())).to.throw(/state is for "adamw"/);
    expect(() => new AdamFamily(true, { amsgrad: true }).restore(adam.state())).to.throw(
      /expected \[m, v, vMax\]/,
    );
  });
});

describe('createOptimizer', () => {
  const recipe: TrainRecipe = {
    epochs: 1,
    batchSize: 8,
    optimizer: 'adamw',
    lr: 0.1,
    weightDecay: 0.5,
    betas: [0.9, 0.999],
    eps: 1e-8,
    momentum: 0,
    schedule: 'constant',
    warmupRatio: 0,
    clipNorm: null,
    evalEvery: 1,
    dropout: 0,
  };

  it('builds the optimiser the recipe names, with headLr as a multiplier on the head', () => {
    // AdamW lr 0.1, wd 0.5, headLr 0.3, g = 1, p = 1, one step:
    //   lora/A:    1·(1 − 0.1·0.5) − 0.1 = 0.85
    //   head/bias: 1·(1 − 0.3·0.5) − 0.3 = 0.55
    const opt = createOptimizer({ ...recipe, headLr: 0.3 });
    expect(opt.kind).to.equal('adamw');
    const params: ParamSet = { 'lora/A': Float32Array.of(1), 'head/bias': Float32Array.of(1) };
    opt.step(params, { 'lora/A': Float32Array.of(1), 'head/bias': Float32Array.of(1) }, 0.1);
    expectClose(params['lora/A']!, [0.85]);
    expectClose(params['head/bias']!, [0.55]);
    expect(createOptimizer({ ...recipe, optimizer: 'adam' }).kind).to.equal('adam');
    // SGD with recipe.momentum: p = 1 − 0.1·(1 + 0.5) = 0.85 on the first step.
    const sgd = createOptimizer({ ...recipe, optimizer: 'sgd', momentum: 0.9 }, { nesterov: true });
    const q: ParamSet = { w: Float32Array.of(1) };
    sgd.step(q, { w: Float32Array.of(1) }, 0.1);
    // Nesterov on step 1: d = 1.5, buf = 1.5, p = 1 − 0.1·(1.5 + 0.9·1.5) = 0.715
    expectClose(q.w!, [0.715]);
  });

  it('names the recipe field in its errors', () => {
    const bad = (r: Partial<TrainRecipe>) => () => createOptimizer({ ...recipe, ...r } as TrainRecipe);
    expect(bad({ optimizer: 'lamb' as never })).to.throw(
      ConfigError,
      /recipe\.optimizer.*"lamb".*adamw \| adam \| sgd/,
    );
    expect(bad({ betas: [0.9, 1] })).to.throw(ConfigError, /recipe\.betas\[1\].*\[0, 1\)/);
    expect(bad({ weightDecay: -1 })).to.throw(ConfigError, /recipe\.weightDecay/);
    expect(bad({ eps: Number.NaN })).to.throw(ConfigError, /recipe\.eps/);
    expect(bad({ lr: 0, headLr: 0.1 })).to.throw(ConfigError, /recipe\.lr/);
    expect(bad({ optimizer: 'sgd', momentum: -0.1 })).to.throw(ConfigError, /recipe\.momentum/);
  });
});
