import { expect } from 'chai';
import { createSotuPartyTask, loadSotuSpeeches } from '../src/sotu.js';
import { countWords, splitSentences } from '../src/sentences.js';
import { countLabel, ratioLine, SPLITS, textsInTwoSplits } from './helpers.js';

describe('sentence splitter', () => {
  it('does not split after titles, acronyms, initials or inside decimals', () => {
    expect(
      splitSentences(
        'Mr. Speaker, the U.S. economy grew 3.5 percent. That is good! Is it? Dr. Smith of D.C. agreed.',
      ),
    ).to.deep.equal([
      'Mr. Speaker, the U.S. economy grew 3.5 percent.',
      'That is good!',
      'Is it?',
      'Dr. Smith of D.C. agreed.',
    ]);
    expect(splitSentences('George H. W. Bush spoke. He left.')).to.deep.equal([
      'George H. W. Bush spoke.',
      'He left.',
    ]);
  });
  it('keeps closing quotes with their sentence and drops stage directions', () => {
    expect(splitSentences('He said "enough." Then we voted. [Applause] Thank you.')).to.deep.equal([
      'He said "enough."',
      'Then we voted.',
      'Thank you.',
    ]);
  });
  it('counts words with letters or digits only', () => {
    expect(countWords('In 1990 — we won & lost.')).to.equal(5);
  });
});

describe('sotu-party task', () => {
  const task = createSotuPartyTask();
  it('uses the 92 Republican and 90 Democratic speeches', () => {
    const speeches = loadSotuSpeeches();
    expect(speeches.filter((s) => s.label === 1)).to.have.length(92);
    expect(speeches.filter((s) => s.label === 0)).to.have.length(90);
  });
  it('samples 4,000 / 500 / 1,000 sentences of 5 to 80 words', () => {
    expect(SPLITS.map((s) => task.splits[s].length)).to.deep.equal([4000, 500, 1000]);
    for (const s of SPLITS) {
      const words = task.splits[s].map((e) => countWords(e.text));
      expect(Math.min(...words), s).to.be.at.least(5);
      expect(Math.max(...words), s).to.be.at.most(80);
    }
    console.log(`      Republican share: ${ratioLine(task, 1)}`);
  });
  it('puts no speech and no text in two splits', () => {
    const speechSplit = new Map<string, string>();
    for (const s of SPLITS) {
      for (const e of task.splits[s]) {
        expect(e.group, 'every sentence names its speech').to.be.a('string');
        const before = speechSplit.get(e.group!);
        expect(before === undefined || before === s, `${e.group} in ${before} and ${s}`).to.equal(true);
        speechSplit.set(e.group!, s);
      }
    }
    expect(textsInTwoSplits(task)).to.deep.equal([]);
  });
  it('labels each sentence with the party of its speech file', () => {
    for (const s of SPLITS) {
      for (const e of task.splits[s]) expect(e.label, e.group).to.equal(e.group!.endsWith('_r') ? 1 : 0);
    }
  });
  it('samples stratified by label from the split speeches', () => {
    // Pools per split, as written in the description: "Pools: a / b / c sentences".
    const speeches = new Map(loadSotuSpeeches().map((sp) => [sp.id, sp]));
    for (const s of SPLITS) {
      const ids = new Set(task.splits[s].map((e) => e.group!));
      // The pool of a split is all 5–80-word sentences of its speeches (minus a few cross-split repeats).
      const pool = [...ids].flatMap((id) =>
        speeches
          .get(id)!
          .sentences.filter((x) => x.words >= 5 && x.words <= 80)
          .map(() => speeches.get(id)!.label),
      );
      const share = pool.filter((l) => l === 1).length / pool.length;
      const sampled = countLabel(task.splits[s], 1) / task.splits[s].length;
      expect(Math.abs(sampled - share), s).to.be.below(0.01);
    }
  });
  it('is deterministic in splitSeed and changes with it; respects the maxima', () => {
    expect(createSotuPartyTask({ splitSeed: 0 }).splits).to.deep.equal(task.splits);
    const other = createSotuPartyTask({ splitSeed: 5, maxTrain: 300, maxValidation: 50, maxTest: 80 });
    expect(SPLITS.map((s) => other.splits[s].length)).to.deep.equal([300, 50, 80]);
    const speechesA = new Set(task.splits.test.map((e) => e.group));
    const speechesB = new Set(other.splits.test.map((e) => e.group));
    expect([...speechesB].some((g) => !speechesA.has(g))).to.equal(true);
    expect(task.info.metrics).to.deep.equal(['accuracy', 'macro_f1']);
  });
});
