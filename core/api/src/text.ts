/**
 * Text files users give peftkit (presets, data files, model JSON files) must be UTF-8. Anything
 * else is named before it is parsed, so users see "this file is UTF-16" rather than a parser's
 * complaint about byte 0xFF, and raw bytes never reach the terminal.
 */
import { DataError } from './errors.js';

export interface DecodedText {
  text: string;
  /** `\n`, `\r\n`, or `\r` (old Mac files; readers split on it). */
  lineEnding: '\n' | '\r\n' | '\r';
}

/** Decode `bytes` read from `file` (for `what`: "train data", "preset") as UTF-8 text. */
export function decodeText(bytes: Uint8Array, file: string, what = 'text file'): DecodedText {
  const b = bytes;
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)) {
    throw new DataError(
      `${what}: the file is UTF-16 (it starts with the byte-order mark ${b[0] === 0xff ? 'FF FE' : 'FE FF'}); expected UTF-8 text (convert it, e.g. iconv -f UTF-16 -t UTF-8)`,
      file,
    );
  }
  const nul = b.indexOf(0);
  if (nul >= 0) {
    throw new DataError(
      `${what}: the file holds a NUL byte at offset ${nul}: a binary file, or UTF-16 text without a byte-order mark; expected UTF-8 text`,
      file,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    throw new DataError(
      `${what}: the file is not valid UTF-8 (at byte ${firstInvalidUtf8(b)}); expected UTF-8 text (convert it, e.g. iconv -f LATIN1 -t UTF-8)`,
      file,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lf = text.indexOf('\n');
  const lineEnding =
    lf < 0 ? (text.includes('\r') ? '\r' : '\n') : lf > 0 && text[lf - 1] === '\r' ? '\r\n' : '\n';
  return { text, lineEnding };
}

/** The lines of decoded text, whatever its line endings (LF, CRLF, or CR alone). */
export function textLines(d: DecodedText): string[] {
  return d.lineEnding === '\r' ? d.text.split('\r') : d.text.split(/\r?\n/);
}

function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c < 0x80 ? 1 : c >> 5 === 6 ? 2 : c >> 4 === 14 ? 3 : c >> 3 === 30 ? 4 : 0;
    if (n === 0 || i + n > b.length) return i;
    for (let k = 1; k < n; k++) if (b[i + k]! >> 6 !== 2) return i;
    i += n;
  }
  return i;
}
