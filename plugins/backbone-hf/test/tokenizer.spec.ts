/** The checkpoint tokenizers: special tokens, type ids, truncation. */
import { ConfigError } from '@peftkit/api';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HfEncoder, loadHfBackbone } from '../src/index.js';
import { makeCheckpoint, scratch } from './helpers.js';

describe('hf backbone: tokenizer', function () {
  this.timeout(30_000);
  const tmp = scratch();
  const backbones: Record<string, HfEncoder> = {};
  const vocab: Record<string, Record<string, number>> = {};
  before(async () => {
    for (const type of ['bert', 'roberta', 'distilbert'] as const) {
      const dir = join(tmp.dir, type);
      await makeCheckpoint({ type, out: dir, positions: 40 });
      backbones[type] = await loadHfBackbone({ path: dir });
      vocab[type] = (
        JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as {
          model: { vocab: Record<string, number> };
        }
      ).model.vocab;
    }
  });
  after(() => tmp.cleanup());

  const id = (type: string, token: string): number => {
    const v = vocab[type]![token];
    if (v === undefined) throw new Error(`test: no token ${token} in the ${type} vocabulary`);
    return v;
  };

  it('BERT: [CLS] text [SEP] with type ids 0, lower-cased WordPiece tokens', () => {
    const e = backbones.bert!.tokenizer.encode('The RIVER rose');
    expect(e.ids).to.deep.equal(['[CLS]', 'the', 'river', 'rose', '[SEP]'].map((t) => id('bert', t)));
    expect(e.typeIds).to.deep.equal([0, 0, 0, 0, 0]);
  });

  it('BERT: pairs are [CLS] a [SEP] b [SEP] with type ids 0 for a and 1 for b', () => {
    const e = backbones.bert!.tokenizer.encode('the river', 'rose again');
    expect(e.ids).to.deep.equal(
      ['[CLS]', 'the', 'river', '[SEP]', 'rose', 'again', '[SEP]'].map((t) => id('bert', t)),
    );
    expect(e.typeIds).to.deep.equal([0, 0, 0, 0, 1, 1, 1]);
  });

  it('BERT: unknown words fall back to word pieces and [UNK]', () => {
    const ids = backbones.bert!.tokenizer.encode('flooding ζ').ids;
    expect(ids).to.deep.equal(['[CLS]', 'flood', '##ing', '[UNK]', '[SEP]'].map((t) => id('bert', t)));
  });

  it('RoBERTa: <s> a </s></s> b </s>, byte-level tokens, all type ids 0 (type_vocab_size 1)', () => {
    const e = backbones.roberta!.tokenizer.encode('the river', ' rose');
    // Byte-level BPE pieces of the learned merges: Ġ marks a preceding space.
    const ids = ['<s>', 't', 'he', 'Ġr', 'i', 'v', 'er', '</s>', '</s>', 'Ġro', 'se', '</s>'].map((t) =>
      id('roberta', t),
    );
    expect(e.ids).to.deep.equal(ids);
    expect(e.typeIds).to.deep.equal(e.ids.map(() => 0));
    // Byte-level BPE needs no unknown token: any text maps to byte symbols.
    const odd = backbones.roberta!.tokenizer.encode('ζ€');
    expect(odd.ids).to.have.length(2 + 5); // 2 + 3 UTF-8 bytes, no merges among them
  });

  it('DistilBERT: same special tokens as BERT, no type ids', () => {
    const e = backbones.distilbert!.tokenizer.encode('the river', 'rose');
    expect(e.ids).to.deep.equal(
      ['[CLS]', 'the', 'river', '[SEP]', 'rose', '[SEP]'].map((t) => id('distilbert', t)),
    );
    expect(e.typeIds).to.equal(undefined);
  });

  it('truncates single texts to maxLength, keeping the final [SEP]', () => {
    const tok = backbones.bert!.tokenizer;
    const long = 'the river rose slowly after three days of rain and the old bridge near the mill was closed';
    const full = tok.encode(long, undefined, 40);
    expect(full.ids.length).to.equal(20);
    const cut = tok.encode(long, undefined, 8);
    expect(cut.ids).to.deep.equal([...full.ids.slice(0, 7), id('bert', '[SEP]')]);
  });

  it('truncates pairs longest-first, from the end of each text', () => {
    const tok = backbones.bert!.tokenizer;
    const a = 'the river rose slowly after three days of rain'; // 9 tokens
    const b = 'the market opened'; // 3 tokens
    const cut = tok.encode(a, b, 12); // 12 - 3 specials = 9 left: a keeps 6, b keeps 3
    const [cls, sep] = [id('bert', '[CLS]'), id('bert', '[SEP]')];
    const ta = tok.encode(a).ids.slice(1, -1);
    const tb = tok.encode(b).ids.slice(1, -1);
    expect(cut.ids).to.deep.equal([cls, ...ta.slice(0, 6), sep, ...tb, sep]);
    expect(cut.typeIds).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    // Both long: they shrink alternately to equal lengths (ties cut from the second text).
    // 9 + 9 tokens into 7: (9,9) -> (9,8) -> (8,8) -> ... -> (4,4) -> (4,3).
    expect(tok.encode(a, a, 10).ids).to.deep.equal([cls, ...ta.slice(0, 4), sep, ...ta.slice(0, 3), sep]);
  });

  it('defaults maxLength to min(128, usable positions) and honours the option', async () => {
    expect(backbones.bert!.info.maxLength).to.equal(40);
    expect(backbones.roberta!.info.maxLength).to.equal(40); // 42 positions less RoBERTa's offset of 2
    const long = Array.from({ length: 100 }, () => 'rain').join(' ');
    expect(backbones.roberta!.tokenizer.encode(long).ids).to.have.length(40);
    const short = await loadHfBackbone({ path: join(tmp.dir, 'bert'), maxLength: 16 });
    expect(short.info.maxLength).to.equal(16);
    expect(short.tokenizer.encode(long).ids).to.have.length(16);
    expect(() => short.tokenizer.encode('rain', undefined, 41)).to.throw(ConfigError, /40 positions/);
    // A sentence pair needs [CLS] a [SEP] b [SEP]: 5 tokens at least.
    expect(() => short.tokenizer.encode('rain', 'snow', 4)).to.throw(
      ConfigError,
      /backbone\.options\.maxLength: maxLength 4 leaves no room for text after the 3 special tokens of a sentence pair/,
    );
  });

  it('reports the vocabulary size and padding id of the checkpoint', () => {
    expect(backbones.bert!.tokenizer.vocabSize).to.equal(Object.keys(vocab.bert!).length);
    expect(backbones.bert!.tokenizer.padId).to.equal(id('bert', '[PAD]'));
    expect(backbones.roberta!.tokenizer.padId).to.equal(id('roberta', '<pad>'));
  });
});
