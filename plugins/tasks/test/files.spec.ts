import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DataError } from '@peftkit/api';
import { createJsonlTask, createTsvTask } from '../src/files.js';
import { SPLITS, textsInTwoSplits } from './helpers.js';

describe('tsv and jsonl tasks', () => {
  let dir: string;
  const write = (name: string, content: string) => writeFileSync(join(dir, name), content);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'peftkit-tasks-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('good files', () => {
    it('reads an RTE-style TSV with a header, sentence pairs and named labels', () => {
      const header = 'index\tsentence1\tsentence2\tlabel\n';
      write(
        'rte-train.tsv',
        header + '0\tA man sleeps.\tA person rests.\tentailment\n1\tIt rains.\tIt is dry.\tnot_entailment\n',
      );
      write('rte-dev.tsv', header + '0\tCats purr.\tAnimals make sounds.\tentailment\n');
      write('rte-test.tsv', header + '0\tThe sun sets.\tIt is noon.\tnot_entailment\r\n\n');
      const task = createTsvTask(
        {
          train: 'rte-train.tsv',
          validation: 'rte-dev.tsv',
          test: 'rte-test.tsv',
          textColumn: 'sentence1',
          pairColumn: 'sentence2',
          labels: ['entailment', 'not_entailment'],
        },
        dir,
      );
      expect(task.splits.train).to.deep.equal([
        { text: 'A man sleeps.', pair: 'A person rests.', label: 0 },
        { text: 'It rains.', pair: 'It is dry.', label: 1 },
      ]);
      expect(task.splits.test).to.deep.equal([{ text: 'The sun sets.', pair: 'It is noon.', label: 1 }]);
      expect(task.info).to.include({ name: 'tsv', type: 'classification', numClasses: 2, pair: true });
      expect(task.info.metrics).to.deep.equal(['accuracy', 'f1']);
      expect(task.info.labelNames).to.deep.equal(['entailment', 'not_entailment']);
    });

    it('reads a headerless STS-style TSV by column index as regression and holds out validation', () => {
      const lines = Array.from({ length: 40 }, (_, i) => `s${i}\tfirst ${i}\tsecond ${i}\t${(i % 6) * 0.8}`);
      write('sts-train.tsv', lines.join('\n') + '\n');
      write('sts-test.tsv', 'x\tthe test\tanother\t4.25\n');
      const options = {
        train: 'sts-train.tsv',
        test: 'sts-test.tsv',
        header: false,
        textColumn: 1,
        pairColumn: 2,
        labelColumn: 3,
        type: 'regression',
      };
      const task = createTsvTask(options, dir);
      expect(task.splits.train).to.have.length(36);
      expect(task.splits.validation).to.have.length(4);
      expect(task.splits.test).to.deep.equal([{ text: 'the test', pair: 'another', label: 4.25 }]);
      expect(task.info).to.include({ type: 'regression', numClasses: 1 });
      expect(task.info.metrics).to.deep.equal(['pearson', 'spearman']);
      expect(textsInTwoSplits(task)).to.deep.equal([]);
      // Seeded: the same options give the same hold-out, another splitSeed a different one.
      expect(createTsvTask(options, dir).splits).to.deep.equal(task.splits);
      expect(createTsvTask({ ...options, splitSeed: 3 }, dir).splits.validation).to.not.deep.equal(
        task.splits.validation,
      );
      expect(task.info.description).to.match(
        /held out from the training file \(10%, seeded with splitSeed 0/,
      );
    });

    it('reads JSONL pairs for regression and integer-labelled multi-class JSONL', () => {
      write(
        'pairs.jsonl',
        '{"q":"how old?","a":"ten years","score":3.5}\n\n{"q":"why?","a":"because","score":"1"}\n',
      );
      const reg = createJsonlTask(
        {
          train: 'pairs.jsonl',
          validation: 'pairs.jsonl',
          test: 'pairs.jsonl',
          textColumn: 'q',
          pairColumn: 'a',
          labelColumn: 'score',
          type: 'regression',
        },
        dir,
      );
      expect(reg.splits.train).to.deep.equal([
        { text: 'how old?', pair: 'ten years', label: 3.5 },
        { text: 'why?', pair: 'because', label: 1 },
      ]);
      const rows = Array.from({ length: 30 }, (_, i) =>
        JSON.stringify({ text: `sentence ${i}`, label: i % 3 }),
      );
      write('multi.jsonl', rows.join('\n'));
      const multi = createJsonlTask({ train: 'multi.jsonl', test: 'multi.jsonl' }, dir);
      expect(multi.info).to.include({ name: 'jsonl', numClasses: 3, pair: false });
      expect(multi.info.metrics).to.deep.equal(['accuracy', 'macro_f1']);
      // 10 rows per class; 10% of each class held out.
      for (const label of [0, 1, 2])
        expect(multi.splits.validation.filter((e) => e.label === label)).to.have.length(1);
      expect(SPLITS.map((s) => multi.splits[s].length)).to.deep.equal([27, 3, 30]);
    });

    it('maps JSON booleans through label names (BoolQ style)', () => {
      write(
        'boolq.jsonl',
        '{"question":"is it?","passage":"it is","answer":true}\n{"question":"is not?","passage":"no","answer":false}\n',
      );
      const task = createJsonlTask(
        {
          train: 'boolq.jsonl',
          validation: 'boolq.jsonl',
          test: 'boolq.jsonl',
          textColumn: 'question',
          pairColumn: 'passage',
          labelColumn: 'answer',
          labels: ['false', 'true'],
        },
        dir,
      );
      expect(task.splits.train.map((e) => e.label)).to.deep.equal([1, 0]);
    });
  });

  describe('bad data files', () => {
    // Fixtures are written when the test runs (the temporary directory exists only then).
    const tsv =
      (name: string, content: string, extra: Record<string, unknown> = {}) =>
      () => {
        write(name, content);
        return createTsvTask(
          { train: name, validation: name, test: name, textColumn: 'sentence', ...extra },
          dir,
        );
      };
    const jsonl =
      (name: string, content: string, extra: Record<string, unknown> = {}) =>
      () => {
        write(name, content);
        return createJsonlTask({ train: name, validation: name, test: name, ...extra }, dir);
      };
    // Each message names the file, the line (file:line) and the column, and what was expected.
    const cases: [string, () => unknown, RegExp][] = [
      [
        'wrong column count',
        tsv('short.tsv', 'sentence\tlabel\ngood\t1\nbad row\n'),
        /short\.tsv:3: expected 2 tab-separated columns \(sentence, label\), found 1: column 'label' is missing/,
      ],
      [
        'extra column',
        tsv('long.tsv', 'sentence\tlabel\ngood\t1\tx\n'),
        /long\.tsv:2: expected 2 .* found 3: there is an extra field after column 'label'/,
      ],
      [
        'empty text',
        tsv('emptytext.tsv', 'sentence\tlabel\na\t0\n \t1\n'),
        /emptytext\.tsv:3: column 'sentence' is empty; expected text/,
      ],
      [
        'non-integer label',
        tsv('badlabel.tsv', 'sentence\tlabel\na\t0\nb\tpos\n'),
        /badlabel\.tsv:3: column 'label': "pos" is not a class index; expected an integer 0\.\.C-1/,
      ],
      [
        'unknown label name',
        tsv('unknown.tsv', 'sentence\tlabel\na\tneg\nb\tneutral\n', { labels: ['neg', 'pos'] }),
        /unknown\.tsv:3: column 'label': unknown label "neutral"; expected one of "neg", "pos"/,
      ],
      [
        'bad regression target',
        tsv('badnum.tsv', 'sentence\tlabel\na\t0.5\nb\thigh\n', { type: 'regression' }),
        /badnum\.tsv:3: column 'label': "high" is not a number; expected a finite real-valued regression target/,
      ],
      [
        'column not in header',
        tsv('nocol.tsv', 'text\tlabel\na\t0\n'),
        /nocol\.tsv:1: column 'sentence' \(option textColumn\) is not in the header; expected one of 'text', 'label'/,
      ],
      [
        'index out of range',
        tsv('range.tsv', 'a\t0\n', { header: false, textColumn: 0, labelColumn: 2 }),
        /range\.tsv:1: column 2 \(option labelColumn\) is out of range; expected an index below 2/,
      ],
      [
        'headerless bad label',
        tsv('nohead.tsv', 'a\t0\nb\tx\n', { header: false, textColumn: 0, labelColumn: 1 }),
        /nohead\.tsv:2: column 1: "x" is not a class index/,
      ],
      [
        'name without header',
        tsv('named.tsv', 'a\t0\n', { header: false, labelColumn: 1 }),
        /named\.tsv: option textColumn names column 'sentence', but the file has no header; expected a 0-based index/,
      ],
      [
        'empty file',
        tsv('empty.tsv', '\n  \n'),
        /empty\.tsv: train data: file is empty; expected at least one row/,
      ],
      [
        'header only',
        tsv('header.tsv', 'sentence\tlabel\n'),
        /header\.tsv: train data: no rows after the header/,
      ],
      [
        'missing file',
        () => createTsvTask({ train: 'nope.tsv', test: 'nope.tsv' }, dir),
        /nope\.tsv: train data: file not found/,
      ],
      [
        'bad JSON',
        jsonl('badjson.jsonl', '{"text":"a","label":0}\n{"text": "b", label: 1}\n'),
        /badjson\.jsonl:2: invalid JSON \(.*\); expected one JSON object per line/,
      ],
      [
        'not an object',
        jsonl('array.jsonl', '{"text":"a","label":0}\n[1,2]\n'),
        /array\.jsonl:2: expected a JSON object, found an array/,
      ],
      [
        'missing label field',
        jsonl('nolabel.jsonl', '{"text":"a","label":0}\n\n{"text":"b"}\n'),
        /nolabel\.jsonl:3: field 'label' \(labelColumn\) is missing; expected a label \(the line has: text\)/,
      ],
      [
        'text not a string',
        jsonl('numtext.jsonl', '{"text":5,"label":0}\n'),
        /numtext\.jsonl:1: field 'text' is 5; expected a non-empty string/,
      ],
      [
        'missing pair field',
        jsonl('nopair.jsonl', '{"text":"a","label":0}\n', { pairColumn: 'hypothesis' }),
        /nopair\.jsonl:1: field 'hypothesis' \(pairColumn\) is missing; expected a non-empty string \(the line has: text, label\)/,
      ],
      [
        'JSONL unknown label',
        jsonl('jlabel.jsonl', '{"text":"a","label":"maybe"}\n', { labels: ['no', 'yes'] }),
        /jlabel\.jsonl:1: field 'label': unknown label "maybe"; expected one of "no", "yes"/,
      ],
      [
        'JSONL negative class',
        jsonl('neg.jsonl', '{"text":"a","label":-1}\n'),
        /neg\.jsonl:1: field 'label': -1 is not a class index/,
      ],
      ['empty JSONL', jsonl('empty.jsonl', ''), /empty\.jsonl: train data: file is empty/],
      [
        'single class',
        jsonl('one.jsonl', '{"text":"a","label":0}\n'),
        /one\.jsonl: every label is 0; expected at least two classes/,
      ],
    ];
    for (const [name, run, message] of cases) {
      it(name, () => {
        expect(run).to.throw(DataError, message);
      });
    }
  });

  describe('bad options', () => {
    before(() => {
      mkdirSync(join(dir, 'opts'), { recursive: true });
      write('opts/three.jsonl', [0, 1, 2].map((l) => JSON.stringify({ text: `t${l}`, label: l })).join('\n'));
    });
    const base = { train: 'opts/three.jsonl', test: 'opts/three.jsonl', validation: 'opts/three.jsonl' };
    it('rejects f1 for three classes, labels for regression, missing and unknown options', () => {
      expect(() => createJsonlTask({ ...base, metrics: ['f1'] }, dir)).to.throw(
        ConfigError,
        /options\.metrics: .*'f1' does not fit a classification task with 3 classes/,
      );
      expect(() => createJsonlTask({ ...base, metrics: ['pearson'] }, dir)).to.throw(
        ConfigError,
        /options\.metrics/,
      );
      expect(() => createJsonlTask({ ...base, type: 'regression', labels: ['a', 'b'] }, dir)).to.throw(
        ConfigError,
        /options\.labels/,
      );
      expect(() => createJsonlTask({ test: 'x' }, dir)).to.throw(
        ConfigError,
        /options\.train: .*required option is missing/,
      );
      expect(() => createJsonlTask({ ...base, header: true }, dir)).to.throw(
        ConfigError,
        /options\.header: .*unknown option/,
      );
      expect(() => createTsvTask({ ...base, textColumn: 1.5 }, dir)).to.throw(
        ConfigError,
        /options\.textColumn: .*expected a string or an integer >= 0/,
      );
    });
  });
});
