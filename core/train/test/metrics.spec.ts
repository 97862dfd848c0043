import { expect } from 'chai';
import { argmaxRows, averageRanks, computeMetrics } from '../src/metrics.js';

// Every expected value below is worked out by hand in the comment above it.

describe('metrics', () => {
  describe('accuracy and binary f1', () => {
    // y = [0,1,0,0,0], p = [0,1,1,0,1]: correct at 0,1,3 -> accuracy 3/5.
    // Positive class 1: tp = {1} = 1, fp = {2,4} = 2, fn = {} = 0 -> f1 = 2/(2+2+0) = 0.5
    // (precision 1/3, recall 1, harmonic mean 2·(1/3)/(4/3) = 0.5).
    it('match the hand-computed counts', () => {
      const m = computeMetrics(['accuracy', 'f1'], [0, 1, 1, 0, 1], [0, 1, 0, 0, 0], 'classification');
      expect(m.accuracy).to.be.closeTo(0.6, 1e-12);
      expect(m.f1).to.be.closeTo(0.5, 1e-12);
    });
    // The positive class is never predicted: tp = 0, fn = 2 -> 0/(0+0+2) = 0.
    it('f1 is 0 when the positive class is never predicted', () => {
      expect(computeMetrics(['f1'], [0, 0, 0, 0], [1, 0, 1, 0], 'classification').f1).to.equal(0);
    });
    // No positive anywhere: 2tp+fp+fn = 0; convention 0 (not NaN).
    it('f1 is 0, not NaN, when there is no positive label or prediction', () => {
      expect(computeMetrics(['f1'], [0, 0], [0, 0], 'classification').f1).to.equal(0);
    });
  });

  describe('macro_f1', () => {
    // y = [0,0,1,1,2,2], p = [0,1,1,1,0,2]
    // class 0: tp {0}=1, fp {4}=1, fn {1}=1 -> 2/4 = 0.5
    // class 1: tp {2,3}=2, fp {1}=1, fn 0   -> 4/5 = 0.8
    // class 2: tp {5}=1, fp 0, fn {4}=1     -> 2/3
    // mean = (0.5 + 0.8 + 2/3) / 3 = 0.655555...
    it('averages per-class F1', () => {
      const m = computeMetrics(['macro_f1'], [0, 1, 1, 1, 0, 2], [0, 0, 1, 1, 2, 2], 'classification');
      expect(m.macro_f1).to.be.closeTo((0.5 + 0.8 + 2 / 3) / 3, 1e-12);
    });
    // y = [0,1,2,2], p = [0,1,1,1]: class 2 is never predicted.
    // class 0: 2/2 = 1; class 1: tp 1, fp 2 -> 2/4 = 0.5; class 2: tp 0, fn 2 -> 0. mean = 0.5.
    it('counts a class that is never predicted with F1 0', () => {
      expect(
        computeMetrics(['macro_f1'], [0, 1, 1, 1], [0, 1, 2, 2], 'classification').macro_f1,
      ).to.be.closeTo(0.5, 1e-12);
    });
    // y = [0,0,1,1], p = [0,2,1,1]: class 2 occurs only in the predictions.
    // class 0: tp 1, fn 1 -> 2/3; class 1: 4/4 = 1; class 2: fp 1 -> 0. mean = (2/3 + 1 + 0)/3 = 5/9.
    it('includes classes that occur only in the predictions', () => {
      expect(
        computeMetrics(['macro_f1'], [0, 2, 1, 1], [0, 0, 1, 1], 'classification').macro_f1,
      ).to.be.closeTo(5 / 9, 1e-12);
    });
  });

  describe('mcc', () => {
    // y = [1,1,1,0,0,0,0,1], p = [1,1,0,0,0,1,0,1]
    // tp {0,1,7} = 3, fn {2} = 1, tn {3,4,6} = 3, fp {5} = 1
    // (3·3 − 1·1) / sqrt(4·4·4·4) = 8/16 = 0.5
    it('binary: (tp·tn − fp·fn)/sqrt(...)', () => {
      const m = computeMetrics(['mcc'], [1, 1, 0, 0, 0, 1, 0, 1], [1, 1, 1, 0, 0, 0, 0, 1], 'classification');
      expect(m.mcc).to.be.closeTo(0.5, 1e-12);
    });
    // y = [0,0,1,1,2,2], p = [0,1,1,1,0,2]: s = 6, c = 4 (indices 0,2,3,5)
    // predicted counts p = (2,3,1), true counts t = (2,2,2); Σ p·t = 4+6+2 = 12
    // numerator c·s − Σ p·t = 24 − 12 = 12
    // denominator sqrt((36 − (4+9+1)) · (36 − 12)) = sqrt(22·24) = sqrt(528)
    it('multi-class R_K', () => {
      const m = computeMetrics(['mcc'], [0, 1, 1, 1, 0, 2], [0, 0, 1, 1, 2, 2], 'classification');
      expect(m.mcc).to.be.closeTo(12 / Math.sqrt(528), 1e-12);
    });
    it('is +1 for perfect and −1 for inverted binary predictions', () => {
      expect(computeMetrics(['mcc'], [0, 1, 0, 1], [0, 1, 0, 1], 'classification').mcc).to.be.closeTo(
        1,
        1e-12,
      );
      expect(computeMetrics(['mcc'], [1, 0, 1, 0], [0, 1, 0, 1], 'classification').mcc).to.be.closeTo(
        -1,
        1e-12,
      );
    });
    // Constant predictions: Σ p_k² = 4² = s², so the denominator is 0; convention 0.
    it('is 0, not NaN, for constant predictions or constant labels', () => {
      expect(computeMetrics(['mcc'], [1, 1, 1, 1], [0, 1, 0, 1], 'classification').mcc).to.equal(0);
      expect(computeMetrics(['mcc'], [0, 1, 0, 1], [1, 1, 1, 1], 'classification').mcc).to.equal(0);
    });
  });

  describe('pearson and spearman', () => {
    // a = [1,2,3,4] (mean 2.5), b = [2,4,5,9] (mean 5)
    // deviations a: -1.5,-0.5,0.5,1.5; b: -3,-1,0,4
    // cov = 4.5+0.5+0+6 = 11; Σda² = 5; Σdb² = 26 -> r = 11/sqrt(130)
    it('pearson matches the hand computation', () => {
      const m = computeMetrics(['pearson'], [1, 2, 3, 4], [2, 4, 5, 9], 'regression');
      expect(m.pearson).to.be.closeTo(11 / Math.sqrt(130), 1e-12);
    });
    it('pearson is 0, not NaN, for constant predictions', () => {
      expect(computeMetrics(['pearson'], [3, 3, 3], [1, 2, 3], 'regression').pearson).to.equal(0);
    });
    // values [5,1,5,5,2]: 1 -> rank 1, 2 -> rank 2, the three 5s share ranks 3,4,5 -> mean 4.
    it('average ranks for ties', () => {
      expect(Array.from(averageRanks([5, 1, 5, 5, 2]))).to.deep.equal([4, 1, 4, 4, 2]);
    });
    // a = [1,2,2,3] -> ranks [1,2.5,2.5,4]; b = [10,20,30,40] -> ranks [1,2,3,4]; both mean 2.5
    // deviations: -1.5,0,0,1.5 and -1.5,-0.5,0.5,1.5; cov = 2.25+2.25 = 4.5
    // Σda² = 4.5, Σdb² = 5 -> rho = 4.5/sqrt(22.5)
    it('spearman with ties', () => {
      const m = computeMetrics(['spearman'], [1, 2, 2, 3], [10, 20, 30, 40], 'regression');
      expect(m.spearman).to.be.closeTo(4.5 / Math.sqrt(22.5), 1e-12);
    });
    // b = a³ is monotone, so ranks agree exactly (rho = 1) while the relation is not linear (r < 1).
    it('spearman is 1 for a monotone, non-linear relation', () => {
      const m = computeMetrics(['spearman', 'pearson'], [1, 2, 3, 4], [1, 8, 27, 64], 'regression');
      expect(m.spearman).to.be.closeTo(1, 1e-12);
      expect(m.pearson).to.be.lessThan(0.99);
    });
    it('spearman is 0 for constant predictions', () => {
      expect(computeMetrics(['spearman'], [2, 2, 2, 2], [1, 2, 3, 4], 'regression').spearman).to.equal(0);
    });
  });

  describe('input checks', () => {
    it('rejects mismatched lengths, empty input and bad values', () => {
      expect(() => computeMetrics(['accuracy'], [0, 1], [0], 'classification')).to.throw(
        /2 predictions but 1/,
      );
      expect(() => computeMetrics(['accuracy'], [], [], 'classification')).to.throw(/no examples/);
      expect(() => computeMetrics(['accuracy'], [0.5], [0], 'classification')).to.throw(/class index/);
      expect(() => computeMetrics(['pearson'], [NaN, 1], [0, 1], 'regression')).to.throw(/finite/);
      expect(() => computeMetrics(['accuracy'], [0.5], [0.5], 'regression')).to.throw(/regression/);
    });
  });

  describe('argmaxRows', () => {
    // rows: [0.1, 0.9, -1] -> 1; [2, 2, 0] -> tie, lowest index 0; [NaN, 1, 0] -> NaN never wins -> 1
    it('takes the first maximum of each row and ignores NaN', () => {
      const logits = new Float32Array([0.1, 0.9, -1, 2, 2, 0, NaN, 1, 0]);
      expect(Array.from(argmaxRows(logits, 3))).to.deep.equal([1, 0, 1]);
    });
    it('rejects a length that is not a multiple of numClasses', () => {
      expect(() => argmaxRows(new Float32Array(5), 2)).to.throw(/multiple/);
      expect(() => argmaxRows(new Float32Array(4), 0)).to.throw(/positive integer/);
    });
  });
});
