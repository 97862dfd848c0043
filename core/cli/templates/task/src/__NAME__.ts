/**
 * The `__NAME__` task: short movie-review sentences with their polarity (1 positive, 0 negative),
 * split by position (i mod 5 = 1: validation, i mod 5 = 3: test, else train), independent of the
 * run seed. Metrics: accuracy (selects checkpoints), then F1.
 */
import type { Example, JsonSchema, Task, TaskInfo } from '@peftkit/api';

export const __CLASS__OptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
};

export const SENTENCES: ReadonlyArray<readonly [string, number]> = [
  ['a warm and funny film', 1],
  ['the plot is dull and slow', 0],
  ['great acting from the whole cast', 1],
  ['i want those two hours back', 0],
  ['a moving story , beautifully shot', 1],
  ['the jokes fall flat', 0],
  ['one of the best films this year', 1],
  ['boring , predictable and far too long', 0],
  ['the music is wonderful', 1],
  ['bad dialogue and worse acting', 0],
  ['a clever and charming comedy', 1],
  ['the ending makes no sense', 0],
  ['fine performances all round', 1],
  ['a mess from start to finish', 0],
  ['i loved every minute', 1],
  ['the characters are flat and the story is thin', 0],
  ['sharp writing and good direction', 1],
  ['nothing works in this film', 0],
  ['a delight for the whole family', 1],
  ['poorly made and badly acted', 0],
];

export function split(sentences: ReadonlyArray<readonly [string, number]>): Task['splits'] {
  const out: Record<'train' | 'validation' | 'test', Example[]> = { train: [], validation: [], test: [] };
  sentences.forEach(([text, label], i) => {
    out[i % 5 === 1 ? 'validation' : i % 5 === 3 ? 'test' : 'train'].push({ text, label });
  });
  return out;
}

export class __CLASS__ implements Task {
  readonly info: TaskInfo = {
    name: '__NAME__',
    type: 'classification',
    numClasses: 2,
    labelNames: ['negative', 'positive'],
    pair: false,
    metrics: ['accuracy', 'f1'],
    description: `${SENTENCES.length} movie-review sentences (built in); split by position: i mod 5 = 1 validation, 3 test, else train`,
  };
  readonly splits = split(SENTENCES);
}
