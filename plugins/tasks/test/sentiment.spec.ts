import { expect } from 'chai';
import { ConfigError } from '@peftkit/api';
import { createSentimentTask, loadSentimentCorpus, SENTIMENT_DOMAINS } from '../src/sentiment.js';
import { normaliseText } from '../src/split.js';
import { countLabel, SPLITS, textsInTwoSplits } from './helpers.js';

describe('sentiment task', () => {
  it('loads 3 × 1,000 sentences without the sentinel rows, 500/500 per domain', () => {
    const corpus = loadSentimentCorpus();
    expect(corpus).to.have.length(3000);
    for (const d of SENTIMENT_DOMAINS) {
      const rows = corpus.filter((r) => r.domain === d);
      expect(rows, d).to.have.length(1000);
      expect(
        rows.filter((r) => r.label === 1),
        d,
      ).to.have.length(500);
    }
    expect(corpus.every((r) => r.text.trim() !== '')).to.equal(true);
  });

  describe('pooled', () => {
    const task = createSentimentTask();
    it('has train 2,100 / validation 300 / test 600, each exactly 50/50', () => {
      const sizes = { train: 2100, validation: 300, test: 600 };
      for (const s of SPLITS) {
        expect(task.splits[s], s).to.have.length(sizes[s]);
        expect(countLabel(task.splits[s], 1), s).to.equal(sizes[s] / 2);
      }
      expect(task.info.metrics).to.deep.equal(['accuracy', 'f1']);
      expect(task.info.numClasses).to.equal(2);
    });
    it('is stratified by domain: each split holds 70/10/20 of every domain', () => {
      const domainOf = new Map<string, Set<string>>();
      for (const r of loadSentimentCorpus()) {
        const k = normaliseText(r.text);
        (domainOf.get(k) ?? domainOf.set(k, new Set()).get(k)!).add(r.domain);
      }
      const expected = { train: 700, validation: 100, test: 200 };
      for (const s of SPLITS) {
        for (const d of SENTIMENT_DOMAINS) {
          // Texts that occur in two domains cannot be attributed; there is one ("very disappointing.").
          const n = task.splits[s].filter((e) => domainOf.get(normaliseText(e.text))!.has(d)).length;
          expect(n, `${s}/${d}`).to.be.within(expected[s], expected[s] + 1);
        }
      }
    });
    it('puts no text in two splits', () => {
      expect(textsInTwoSplits(task)).to.deep.equal([]);
    });
    it('is deterministic in splitSeed and changes with it', () => {
      expect(createSentimentTask({ splitSeed: 0 }).splits).to.deep.equal(task.splits);
      const other = createSentimentTask({ splitSeed: 1 });
      expect(other.splits.test.map((e) => e.text)).to.not.deep.equal(task.splits.test.map((e) => e.text));
      expect(other.splits.test).to.have.length(600);
    });
    it('says where the data comes from, its license and that the split ignores the training seed', () => {
      expect(task.info.description).to.match(/sentiment@5\.0\.2/);
      expect(task.info.description).to.match(/CC BY 4\.0/);
      expect(task.info.description).to.match(/independent of the training seed/);
    });
  });

  describe('cross-domain', () => {
    for (const testDomain of SENTIMENT_DOMAINS) {
      it(`tests on exactly the ${testDomain} sentences and trains on the others`, () => {
        const task = createSentimentTask({ variant: 'cross-domain', testDomain });
        const corpus = loadSentimentCorpus();
        const heldOut = corpus.filter((r) => r.domain === testDomain);
        expect(task.splits.test.map((e) => e.text)).to.deep.equal(heldOut.map((r) => r.text));
        // Sentences of the other domains whose text also occurs in the test domain are removed.
        const testTexts = new Set(heldOut.map((r) => normaliseText(r.text)));
        const overlap = corpus.filter((r) => r.domain !== testDomain && testTexts.has(normaliseText(r.text)));
        expect(task.splits.train).to.have.length(1800 - overlap.length);
        expect(task.splits.validation).to.have.length(200);
        expect(countLabel(task.splits.validation, 1)).to.equal(100);
        expect(countLabel(task.splits.test, 1)).to.equal(500);
        expect(countLabel(task.splits.train, 1)).to.equal(900);
        expect(textsInTwoSplits(task)).to.deep.equal([]);
        const trainDomains = corpus.filter((r) => r.domain !== testDomain).map((r) => r.text);
        const allowed = new Set(trainDomains);
        expect(task.splits.train.every((e) => allowed.has(e.text))).to.equal(true);
      });
    }
    it('defaults to testing on yelp, which shares no text with amazon or imdb', () => {
      const task = createSentimentTask({ variant: 'cross-domain' });
      expect(task.splits.train).to.have.length(1800);
      expect(task.info.description).to.match(/all 1,000 yelp sentences/);
    });
  });

  it('rejects unknown and misspelled options with the option named', () => {
    expect(() => createSentimentTask({ variant: 'poold' })).to.throw(
      ConfigError,
      /options\.variant.*'pooled', 'cross-domain'/,
    );
    expect(() => createSentimentTask({ seed: 1 })).to.throw(ConfigError, /options\.seed: .*unknown option/);
    expect(() => createSentimentTask({ splitSeed: -1 })).to.throw(ConfigError, /options\.splitSeed/);
  });
});
