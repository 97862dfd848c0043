/** Test sentences: real ones from the `sentiment` package's fixtures, plus hand-picked edge cases. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The UCI sentiment sentences of one fixture file (the trailing `{text: '', class: null}` dropped). */
export function sentimentSentences(file: 'amazon' | 'imdb' | 'yelp'): string[] {
  const dir = dirname(createRequire(import.meta.url).resolve('sentiment/package.json'));
  const rows = JSON.parse(readFileSync(join(dir, 'test', 'fixtures', `${file}.json`), 'utf8')) as {
    text: string;
    class: number | null;
  }[];
  return rows.filter((r) => r.class !== null).map((r) => r.text);
}

export function realSentences(perFile: number): string[] {
  return (['amazon', 'imdb', 'yelp'] as const).flatMap((f) => sentimentSentences(f).slice(0, perFile));
}

/** Edge cases; `longText()` adds the >128-token ones. */
export const EDGE_CASES: readonly string[] = [
  '',
  'a',
  '.',
  'Café déjà vu: a naïve façade — “smart quotes” and ‘single’ ones…',
  '日本語のテキストです。中文也可以。한국어도.',
  'Emoji 😀🎉 party 👍🏽 and a flag 🇫🇷',
  'Ελληνικά και русский текст, עברית, العربية',
  'ﬁne ①②③ ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ ™ ½', // NFKC changes all of these
  'e\u0301 combining accent vs é precomposed',
  'zero\u200bwidth and no\u00a0break space',
  'tab\tand\nnewline\r\nand CRLF',
  '   leading and trailing spaces   ',
  'double  space   triple',
  '!!!???...,,,;;; --- ***',
  '"quoted" (parenthesised) [bracketed] {braced} <angled>',
  'Numbers: 3.14159, 1,000,000, 2024-01-01, 10:30, 42%, -7, 1e-9, #1',
  'see http://example.com/path?q=1 :) :-( :00 :30 ://', // pieces with null / odd scores in vocab.json
  '☃☃☃ unknown run ☃ ☃ then text',
  'ALL CAPS SHOUTING WITH NUMBERS 123',
  'lone surrogate \ud83d here',
  'x'.repeat(300),
];

/** Texts well beyond 128 tokens: real sentences joined, and a repeated word. */
export function longTexts(): string[] {
  return [sentimentSentences('imdb').slice(100, 130).join(' '), 'word '.repeat(200).trim()];
}
