/**
 * All five tasks through the conformance kit, created through the plugin's own ContainerModule:
 * sentiment (pooled and cross-domain), spam, sotu-party (sampled small), and tsv / jsonl from small
 * temporary files (single sentences, pairs with named labels and a held-out validation split,
 * regression with groups of identical texts).
 */
import { creator, describeTask, loadContributions, ofKind } from '@peftkit/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);
const dir = mkdtempSync(join(tmpdir(), 'peftkit-task-conformance-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const WORDS = ['good', 'great', 'fine', 'bad', 'awful', 'poor', 'movie', 'food', 'service', 'very', 'quite'];
/** A small labelled text: deterministic words from the row number. */
const text = (i: number, salt: number) =>
  Array.from(
    { length: 3 + ((i * 7 + salt) % 5) },
    (_, k) => WORDS[(i * 13 + k * 5 + salt) % WORDS.length],
  ).join(' ');

const tsvRows = (n: number, salt: number) =>
  Array.from({ length: n }, (_, i) => `${text(i, salt)}\t${(i + salt) % 2}`);
writeFileSync(join(dir, 'train.tsv'), ['text\tlabel', ...tsvRows(40, 1)].join('\n') + '\n');
writeFileSync(join(dir, 'test.tsv'), ['text\tlabel', ...tsvRows(12, 2)].join('\n') + '\n');
const pairs = (n: number, salt: number) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ a: text(i, salt), b: text(i + 3, salt), y: ['no', 'yes', 'maybe'][i % 3] }),
  );
writeFileSync(join(dir, 'train.jsonl'), pairs(45, 3).join('\n') + '\n');
writeFileSync(join(dir, 'valid.jsonl'), pairs(9, 4).join('\n') + '\n');
writeFileSync(join(dir, 'test.jsonl'), pairs(9, 5).join('\n') + '\n');
const scores = (n: number, salt: number) =>
  Array.from({ length: n }, (_, i) => `${text(i % 17, salt)}\t${((i * 37) % 50) / 10}`);
writeFileSync(join(dir, 'sts-train.tsv'), scores(50, 6).join('\n') + '\n');
writeFileSync(join(dir, 'sts-test.tsv'), scores(10, 7).join('\n') + '\n');

const settings: Record<string, Record<string, unknown>[]> = {
  sentiment: [{}, { variant: 'cross-domain', testDomain: 'yelp' }],
  spam: [{}],
  'sotu-party': [{ maxTrain: 300, maxValidation: 60, maxTest: 80 }],
  tsv: [
    { train: 'train.tsv', test: 'test.tsv' },
    {
      train: 'sts-train.tsv',
      test: 'sts-test.tsv',
      header: false,
      textColumn: 0,
      labelColumn: 1,
      type: 'regression',
    },
  ],
  jsonl: [
    {
      train: 'train.jsonl',
      validation: 'valid.jsonl',
      test: 'test.jsonl',
      textColumn: 'a',
      pairColumn: 'b',
      labelColumn: 'y',
      labels: ['no', 'yes', 'maybe'],
    },
  ],
};

for (const c of ofKind(contributions, 'task')) {
  const variants = settings[c.name];
  if (!variants) throw new Error(`conformance settings missing for task ${c.name}`);
  for (const options of variants) {
    describeTask(`${c.name} ${JSON.stringify(options)}`, creator(contributions, c, options, dir));
  }
}
