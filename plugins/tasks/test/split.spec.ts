import { expect } from 'chai';
import { ConfigError, Rng } from '@peftkit/api';
import { validateOptions, type OptionSchema } from '../src/options.js';
import { assignSplits, countsByFraction, normaliseText, sampleStratified } from '../src/split.js';

interface Row {
  cell: string;
  key: string;
}

describe('split helpers', () => {
  it('normalises case, Unicode width and whitespace', () => {
    expect(normaliseText('  Great\tPHONE!\n ')).to.equal('great phone!');
    expect(normaliseText('ｆｕｌｌ width')).to.equal('full width');
  });

  it('rounds validation and test, train takes the rest', () => {
    expect(countsByFraction(500, 0.1, 0.2)).to.deep.equal([350, 50, 100]);
    expect(countsByFraction(499, 0.1, 0)).to.deep.equal([449, 50, 0]);
    expect(countsByFraction(7, 0.1, 0.2)).to.deep.equal([5, 1, 1]);
  });

  it('gives every cell its exact counts and keeps groups (also across cells) together', () => {
    // Two cells of 100 rows; groups of 4, 3 and 2 rows, one group spanning both cells.
    const rows: Row[] = [];
    for (let i = 0; i < 100; i++)
      rows.push({ cell: 'a', key: i < 4 ? 'g4' : i < 7 ? 'g3' : i < 9 ? 'gx' : `a${i}` });
    for (let i = 0; i < 100; i++) rows.push({ cell: 'b', key: i < 2 ? 'gx' : i < 4 ? 'g2' : `b${i}` });
    for (let seed = 0; seed < 20; seed++) {
      const splits = assignSplits(
        rows,
        { cellOf: (r) => r.cell, groupOf: (r) => r.key, counts: (_, n) => countsByFraction(n, 0.1, 0.2) },
        new Rng(seed),
      );
      for (const cell of ['a', 'b']) {
        expect(splits.map((s) => s.filter((r) => r.cell === cell).length)).to.deep.equal([70, 10, 20]);
      }
      for (const key of ['g4', 'g3', 'gx', 'g2']) {
        expect(
          splits.filter((s) => s.some((r) => r.key === key)),
          key,
        ).to.have.length(1);
      }
    }
  });

  it('samples at most max rows, keeping label proportions exactly (largest remainder)', () => {
    // 300 rows: 200 of label 0, 100 of label 1; 31 rows -> 20.67 / 10.33 -> 21 / 10.
    const rows = Array.from({ length: 300 }, (_, i) => ({ label: i < 200 ? 0 : 1, i }));
    const sample = sampleStratified(rows, (r) => r.label, 31, new Rng(1));
    expect(sample).to.have.length(31);
    expect(sample.filter((r) => r.label === 0)).to.have.length(21);
    expect(new Set(sample.map((r) => r.i)).size).to.equal(31);
    expect(sampleStratified(rows, (r) => r.label, 1000, new Rng(1))).to.have.length(300);
  });
});

describe('option validation', () => {
  const schema: OptionSchema = {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1, description: 'p' },
      column: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 0 }], description: 'c' },
      size: { type: 'integer', minimum: 1, default: 10, description: 's' },
      names: { type: 'array', items: { type: 'string' }, minItems: 2, description: 'n' },
    },
  };
  it('fills defaults and accepts valid options', () => {
    expect(validateOptions('t', schema, { path: 'x', column: 2 })).to.deep.equal({
      path: 'x',
      column: 2,
      size: 10,
    });
  });
  it('names the option and what was expected', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /options\.path: task 't': required option is missing/],
      [{ path: 'x', size: 0 }, /options\.size: .*expected a value >= 1, found 0/],
      [{ path: 'x', size: 1.5 }, /options\.size: .*expected an integer >= 1, found number 1\.5/],
      [{ path: 'x', column: -1 }, /options\.column: .*expected a string or an integer >= 0/],
      [{ path: 'x', names: ['a', 3] }, /options\.names\[1\]: .*expected a string, found number 3/],
      [{ path: 'x', names: ['a'] }, /options\.names: .*at least 2 items/],
      [
        { path: 'x', colum: 1 },
        /options\.colum: .*unknown option; expected one of path, column, size, names/,
      ],
    ];
    for (const [options, message] of cases) {
      expect(() => validateOptions('t', schema, options), JSON.stringify(options)).to.throw(
        ConfigError,
        message,
      );
    }
  });
});
