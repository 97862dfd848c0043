/**
 * Learning-rate schedules against hand-computed values of Hugging Face's lambdas.
 * Run of T = 100 optimiser steps with warmupRatio 0.1, so w = ceil(100·0.1) = 10 warm-up steps.
 */
import { expect } from 'chai';
import { ConfigError, type TrainRecipe } from '@peftkit/api';
import { Sgd, lrAt, lrMultiplier, warmupSteps } from '../src/index.js';

const T = 100;
const W = 10;

describe('learning-rate schedules (HF get_*_schedule_with_warmup)', () => {
  it('warm up linearly from 0 at step 0: λ(s) = s/w for s < w', () => {
    for (const schedule of ['constant', 'linear', 'cosine'] as const) {
      expect(lrMultiplier(0, T, schedule, W), schedule).to.equal(0);
      expect(lrMultiplier(5, T, schedule, W), schedule).to.equal(0.5);
      expect(lrMultiplier(10, T, schedule, W), schedule).to.equal(1); // end of warm-up: the peak
    }
  });

  it('linear: λ(s) = (T − s)/(T − w) after the warm-up', () => {
    expect(lrMultiplier(40, T, 'linear', W)).to.be.closeTo(60 / 90, 1e-15); // 0.666…
    expect(lrMultiplier(55, T, 'linear', W)).to.equal(0.5); // 45/90
    expect(lrMultiplier(99, T, 'linear', W)).to.be.closeTo(1 / 90, 1e-15); // last step: 0.0111…
    expect(lrMultiplier(100, T, 'linear', W)).to.equal(0);
  });

  it('cosine: λ(s) = ½(1 + cos(π·(s − w)/(T − w))) after the warm-up', () => {
    // s = 40: progress 30/90 = 1/3, ½(1 + cos(π/3)) = ½(1 + ½) = 0.75
    expect(lrMultiplier(40, T, 'cosine', W)).to.be.closeTo(0.75, 1e-15);
    // s = 55: progress ½, ½(1 + cos(π/2)) = 0.5
    expect(lrMultiplier(55, T, 'cosine', W)).to.be.closeTo(0.5, 1e-15);
    // s = 99: progress 89/90, ½(1 − cos(π/90)) = sin²(π/180) = 0.017452406437283512² = 3.0458649045211894e-4
    expect(lrMultiplier(99, T, 'cosine', W)).to.be.closeTo(3.0458649045211894e-4, 1e-15);
    expect(lrMultiplier(100, T, 'cosine', W)).to.be.closeTo(0, 1e-15);
  });

  it('constant: 1 after the warm-up', () => {
    for (const s of [10, 55, 99, 100]) expect(lrMultiplier(s, T, 'constant', W)).to.equal(1);
  });

  it('without warm-up the first step uses the full learning rate', () => {
    expect(lrMultiplier(0, T, 'linear', 0)).to.equal(1); // (100 − 0)/100
    expect(lrMultiplier(0, T, 'cosine', 0)).to.equal(1); // ½(1 + cos 0)
    expect(lrMultiplier(50, T, 'linear', 0)).to.equal(0.5);
  });

  it('counts warm-up steps as ceil(T · ratio), float product included', () => {
    expect(warmupSteps(100, 0.1)).to.equal(10);
    expect(warmupSteps(100, 0)).to.equal(0);
    expect(warmupSteps(15, 0.1)).to.equal(2); // 1.5 → 2
    expect(warmupSteps(100, 0.07)).to.equal(8); // 100·0.07 = 7.000000000000001 in float64, as in Python
  });

  it('lrAt scales recipe.lr: the step-th optimiser step (0-based) uses λ(step)', () => {
    const recipe: Pick<TrainRecipe, 'lr' | 'schedule' | 'warmupRatio'> = {
      lr: 0.002,
      schedule: 'linear',
      warmupRatio: 0.1,
    };
    expect(lrAt(0, T, recipe)).to.equal(0);
    expect(lrAt(5, T, recipe)).to.equal(0.001);
    expect(lrAt(55, T, recipe)).to.equal(0.001);
  });

  it('drives an SGD run as LambdaLR does: the T updates use λ(0) … λ(T − 1)', () => {
    // Linear, no warm-up, T = 4, lr 1, gradient 1: the steps use 1, 0.75, 0.5, 0.25,
    // so p = 10 − (1 + 0.75 + 0.5 + 0.25) = 7.5. (Using λ(1) … λ(4) would give 10 − 1.5 = 8.5.)
    const recipe = { lr: 1, schedule: 'linear', warmupRatio: 0 } as const;
    const opt = new Sgd();
    const params = { w: Float32Array.of(10) };
    for (let k = 0; k < 4; k++) opt.step(params, { w: Float32Array.of(1) }, lrAt(k, 4, recipe));
    expect(params.w[0]).to.equal(7.5);
  });

  it('rejects steps outside [0, T] and bad recipe fields with the field named', () => {
    expect(() => lrMultiplier(101, T, 'linear', W)).to.throw(RangeError, /\[0, 100\], got 101/);
    expect(() => lrMultiplier(1.5, T, 'linear', W)).to.throw(RangeError);
    expect(() => lrMultiplier(0, 0, 'linear', 0)).to.throw(RangeError, /totalSteps/);
    expect(() => lrMultiplier(0, T, 'step' as never, 0)).to.throw(ConfigError, /recipe\.schedule.*"step"/);
    expect(() => warmupSteps(T, 1.5)).to.throw(ConfigError, /recipe\.warmupRatio/);
  });
});
