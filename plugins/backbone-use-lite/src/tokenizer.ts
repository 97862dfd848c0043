/**
 * The USE-lite SentencePiece tokenizer (unigram model, Viterbi segmentation), written to reproduce
 * the reference tokenizer of `@energetic-ai/embeddings` 0.2.0 id for id, including its quirks:
 *
 * - input: NFKC, then `▁` prepended and every U+0020 space replaced by `▁` (other whitespace stays);
 *   the empty string stays empty and yields no ids;
 * - pieces: `vocab.json` entries from index 6 on (0 is `�`, the unknown id; 1..5 are `<s>`, `</s>`
 *   and extra ids, never produced); a piece listed twice keeps its last id and score;
 * - candidates at a position: every piece that is a prefix of the rest of the text; only when there
 *   is none, the single character becomes the unknown id 0 with score 0;
 * - Viterbi: for each end position, candidates in increasing start order; a candidate replaces the
 *   best so far when the best is still exactly 0 (the reference's "unset" marker) or when its score
 *   is >= the best (later ties win). Scores are summed in float64 in the same order;
 * - backtracking steps back by the UTF-16 length of the chosen piece's string (positions count
 *   code points; this only matters for astral characters, which no piece of this vocabulary has);
 * - runs of consecutive unknown ids collapse to one.
 *
 * Ids index the `Embeddings_en` table directly. The model clips sequences to 128 tokens.
 */
import type { Encoding, Tokenizer } from '@peftkit/api';

const SEPARATOR = '\u2581';
/** Vocabulary entries before this index are reserved symbols, not pieces. */
export const RESERVED_PIECES = 6;
export const UNKNOWN_ID = 0;

interface Piece {
  readonly id: number;
  readonly score: number;
}

class TrieNode {
  readonly children = new Map<string, TrieNode>();
  piece: Piece | null = null;
}

interface Edge {
  readonly start: number;
  readonly id: number;
  readonly score: number;
}

export class SentencePieceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  /**
   * The model itself pads with -1 and masks by position; in peftkit graphs padding is given by the
   * mask, so any valid row does: 0 (the unknown piece).
   */
  readonly padId = UNKNOWN_ID;
  private readonly root = new TrieNode();
  /** Per id: how far backtracking steps back (UTF-16 length of the piece string). */
  private readonly stepBack: Int32Array;

  constructor(
    vocab: readonly (readonly [string, number])[],
    /** Default (and largest) number of ids `encode` returns. */
    readonly maxLength: number,
  ) {
    this.vocabSize = vocab.length;
    this.stepBack = Int32Array.from(vocab, ([piece]) => piece.length);
    for (let id = RESERVED_PIECES; id < vocab.length; id++) {
      const [piece, score] = vocab[id]!;
      let node = this.root;
      for (const ch of piece) {
        let next = node.children.get(ch);
        if (!next) node.children.set(ch, (next = new TrieNode()));
        node = next;
      }
      if (node !== this.root) node.piece = { id, score };
    }
  }

  /** Token ids of `text`, not clipped. */
  tokenize(text: string): number[] {
    const normalized = text.normalize('NFKC');
    if (normalized.length === 0) return [];
    const symbols = Array.from(SEPARATOR + normalized.replaceAll(' ', SEPARATOR));
    const n = symbols.length;
    // Candidates grouped by end position; pushed in increasing start order.
    const endingAt: Edge[][] = Array.from({ length: n + 1 }, () => []);
    for (let start = 0; start < n; start++) {
      let found = false;
      let node = this.root.children.get(symbols[start]!);
      for (let j = start; node;) {
        if (node.piece) {
          endingAt[j + 1]!.push({ start, id: node.piece.id, score: node.piece.score });
          found = true;
        }
        j++;
        node = j < n ? node.children.get(symbols[j]!) : undefined;
      }
      if (!found) endingAt[start + 1]!.push({ start, id: UNKNOWN_ID, score: 0 });
    }
    const best = new Float64Array(n + 1);
    const chosen = new Int32Array(n + 1);
    for (let end = 1; end <= n; end++) {
      for (const e of endingAt[end]!) {
        const score = e.score + best[e.start]!;
        if (best[end] === 0 || score >= best[end]!) {
          best[end] = score;
          chosen[end] = e.id;
        }
      }
    }
    const reversed: number[] = [];
    for (let at = n; at > 0; at -= this.stepBack[chosen[at]!]!) reversed.push(chosen[at]!);
    const ids: number[] = [];
    for (let i = reversed.length - 1; i >= 0; i--) {
      const id = reversed[i]!;
      if (id === UNKNOWN_ID && ids.length > 0 && ids[ids.length - 1] === UNKNOWN_ID) continue;
      ids.push(id);
    }
    return ids;
  }

  encode(text: string, pair?: string, maxLength?: number): Encoding {
    if (pair !== undefined)
      throw new Error(
        "use-lite encodes sentence pairs separately (pairEncoding 'separate'): encode each side on its own",
      );
    const limit = Math.min(maxLength ?? this.maxLength, this.maxLength);
    return { ids: this.tokenize(text).slice(0, Math.max(0, limit)) };
  }
}
