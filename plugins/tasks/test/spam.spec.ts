import { expect } from 'chai';
import { createSpamTask, loadSpamCorpus, SPAM_GROUPS, stripHeaders } from '../src/spam.js';
import { normaliseText } from '../src/split.js';
import { countLabel, ratioLine, SPLITS, textsInTwoSplits } from './helpers.js';

describe('spam task', () => {
  it('loads the 6,046 mails with the group sizes of the corpus', () => {
    const mails = loadSpamCorpus();
    expect(mails).to.have.length(6046);
    const sizes = Object.fromEntries(
      Object.keys(SPAM_GROUPS).map((g) => [g, mails.filter((m) => m.group === g).length]),
    );
    expect(sizes).to.deep.equal({
      'easy-ham-1': 2500,
      'easy-ham-2': 1400,
      'hard-ham-1': 250,
      'spam-1': 500,
      'spam-2': 1396,
    });
    expect(mails.filter((m) => m.label === 1)).to.have.length(1896);
  });

  it('strips the header block at the first blank line and collapses whitespace', () => {
    const message = 'From a@b  Thu Aug 22\nSubject: hi\n\tcontinued\n\nHello   there,\n\n  friend.\n';
    expect(stripHeaders(message)).to.equal('Hello there, friend.');
    expect(stripHeaders('Subject: no body')).to.equal('');
    // The first spam-1 mail is HTML: its body starts at the DOCTYPE, after 20 header lines.
    const first = loadSpamCorpus().find((m) => m.group === 'spam-1' && m.id === '00001')!;
    expect(first.body.startsWith('<!DOCTYPE HTML')).to.equal(true);
    // No body starts with the mbox "From addr  date" line that opens every raw message.
    expect(loadSpamCorpus().filter((m) => /^From \S+ {2}\w{3} \w{3}/.test(m.body))).to.deep.equal([]);
    // Only spam-2/00403 starts with header lines: its body is a second, embedded header block.
    const headerLike = loadSpamCorpus().filter((m) => /^(Return-Path|Received|Delivered-To):/.test(m.body));
    expect(headerLike.map((m) => `${m.group}/${m.id}`)).to.deep.equal(['spam-2/00403']);
  });

  describe('default split', () => {
    const task = createSpamTask();
    it('removes duplicates, then splits 70/10/20 within each class', () => {
      const rows = SPLITS.flatMap((s) => task.splits[s]);
      const keys = rows.map((e) => normaliseText(e.text));
      expect(new Set(keys).size, 'no duplicate text anywhere').to.equal(keys.length);
      const removed = /(\d+) exact duplicates removed/.exec(task.info.description)![1]!;
      expect(rows.length + Number(removed)).to.equal(6046);
      for (const label of [0, 1]) {
        const n = countLabel(rows, label);
        expect(countLabel(task.splits.validation, label)).to.equal(Math.round(0.1 * n));
        expect(countLabel(task.splits.test, label)).to.equal(Math.round(0.2 * n));
      }
      console.log(`      sizes ${SPLITS.map((s) => task.splits[s].length).join('/')}, removed ${removed}`);
      console.log(`      spam share: ${ratioLine(task, 1)}`);
    });
    it('puts no text in two splits and cuts bodies to maxChars', () => {
      expect(textsInTwoSplits(task)).to.deep.equal([]);
      expect(Math.max(...SPLITS.flatMap((s) => task.splits[s].map((e) => e.text.length)))).to.be.at.most(
        2000,
      );
    });
    it('scores f1 of the spam class first', () => {
      expect(task.info.metrics).to.deep.equal(['f1', 'accuracy']);
      expect(task.info.labelNames).to.deep.equal(['ham', 'spam']);
    });
    it('is deterministic in splitSeed and changes with it', () => {
      expect(createSpamTask({ splitSeed: 0 }).splits).to.deep.equal(task.splits);
      const other = createSpamTask({ splitSeed: 7 });
      expect(other.splits.test.map((e) => e.text)).to.not.deep.equal(task.splits.test.map((e) => e.text));
    });
  });

  it('keeps splits disjoint when shorter cuts create more duplicates', () => {
    const task = createSpamTask({ maxChars: 100 });
    expect(textsInTwoSplits(task)).to.deep.equal([]);
    expect(Math.max(...task.splits.train.map((e) => e.text.length))).to.be.at.most(100);
    expect(SPLITS.reduce((n, s) => n + task.splits[s].length, 0)).to.be.below(5745);
  });

  it('maxTrain samples the training split (stratified, seeded) and leaves validation and test whole', () => {
    const full = createSpamTask();
    const small = createSpamTask({ maxTrain: 600 });
    expect(small.splits.train).to.have.length(600);
    expect(small.splits.validation).to.deep.equal(full.splits.validation);
    expect(small.splits.test).to.deep.equal(full.splits.test);
    const fullTexts = new Set(full.splits.train.map((e) => e.text));
    expect(small.splits.train.every((e) => fullTexts.has(e.text))).to.equal(true);
    const share = (xs: readonly { label: number }[]) => xs.filter((e) => e.label === 1).length / xs.length;
    expect(share(small.splits.train)).to.be.closeTo(share(full.splits.train), 0.01);
    expect(createSpamTask({ maxTrain: 600 }).splits.train).to.deep.equal(small.splits.train);
    expect(small.info.description).to.match(/600 of the 4,021 training mails are used/);
  });

  it('restToTest adds the training mails left out by maxTrain to the test split: the whole corpus is used', () => {
    const full = createSpamTask();
    const task = createSpamTask({ maxTrain: 600, restToTest: true });
    expect(task.splits.train).to.deep.equal(createSpamTask({ maxTrain: 600 }).splits.train);
    expect(task.splits.validation).to.deep.equal(full.splits.validation);
    expect(task.splits.test.slice(0, full.splits.test.length)).to.deep.equal(full.splits.test);
    expect(task.splits.test).to.have.length(full.splits.test.length + 4021 - 600);
    const count = (t: typeof task) => SPLITS.reduce((n, s) => n + t.splits[s].length, 0);
    expect(count(task)).to.equal(count(full));
    expect(textsInTwoSplits(task)).to.deep.equal([]);
    expect(task.info.description).to.match(/the other 3,421 are added to the test split/);
  });
});
