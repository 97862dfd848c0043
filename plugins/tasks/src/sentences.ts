/**
 * A small, rule-based English sentence splitter for the State of the Union speeches.
 *
 * A sentence ends at `.`, `!` or `?` (plus any closing quotes or brackets) followed by whitespace and
 * a capital letter (optionally after an opening quote or bracket). A `.` does not end a sentence
 * when the word before it is
 *   - a known abbreviation (Mr., Mrs., Dr., St., Gen., Hon., Jan., …), or
 *   - a run of single letters with periods: initials and acronyms (H. W., U.S., D.C., e.g.).
 * Decimal numbers (3.5, $1.2 billion) never split because no whitespace follows their point.
 * Known limits: a sentence that really ends with an acronym ("… in the U.S. The …") or with a
 * single capital letter ("World War I. The …") is joined to the next one; a sentence that starts
 * with a digit or lower-case letter is joined to the previous one.
 */

const ABBREVIATIONS = new Set([
  'Mr',
  'Mrs',
  'Ms',
  'Messrs',
  'Dr',
  'St',
  'Jr',
  'Sr',
  'Hon',
  'Gen',
  'Col',
  'Maj',
  'Capt',
  'Lt',
  'Adm',
  'Sgt',
  'Gov',
  'Sen',
  'Rep',
  'Rev',
  'Prof',
  'Ft',
  'Mt',
  'No',
  'Nos',
  'Co',
  'Inc',
  'Ltd',
  'Bros',
  'vs',
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'Aug',
  'Sep',
  'Sept',
  'Oct',
  'Nov',
  'Dec',
  'Art',
  'Sec',
  'Esq',
]);

/** Editorial stage directions and page markers in the transcripts. */
const STAGE_DIRECTIONS = /\[(?:laughter|applause|missing text|p\.\s?\d+)\]/gi;

const BOUNDARY = /[.!?]+["'”’)\]]*(?=\s+["'“‘([]*[A-Z])/g;

function isAbbreviation(word: string): boolean {
  const w = word.replace(/^[("'“‘[]+/, '');
  return ABBREVIATIONS.has(w) || /^(?:[A-Za-z]\.)*[A-Za-z]$/.test(w);
}

export function splitSentences(text: string): string[] {
  const clean = text.replace(STAGE_DIRECTIONS, ' ').replace(/\s+/g, ' ').trim();
  const out: string[] = [];
  let start = 0;
  for (const m of clean.matchAll(BOUNDARY)) {
    if (m[0].startsWith('.') && !/[!?]/.test(m[0])) {
      const word = /\S+$/.exec(clean.slice(start, m.index))?.[0] ?? '';
      if (isAbbreviation(word)) continue;
    }
    const end = m.index + m[0].length;
    const sentence = clean.slice(start, end).trim();
    if (sentence) out.push(sentence);
    start = end;
  }
  const rest = clean.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

/** Words: space-separated tokens that contain a letter or digit (so "—" and "&" do not count). */
export function countWords(sentence: string): number {
  let n = 0;
  for (const token of sentence.split(' ')) if (/[A-Za-z0-9]/.test(token)) n++;
  return n;
}
