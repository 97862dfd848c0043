/** Token ids through a wrapped tokenizer whose ids are character codes, worked out by hand. */
import type { Backbone } from '@peftkit/api';
import assert from 'node:assert/strict';
import { tinyBackbone } from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';

/** The tiny backbone with a tokenizer whose ids are the character codes (upper and lower case differ). */
function charCodes(): Backbone {
  const tiny = tinyBackbone();
  return {
    info: tiny.info,
    tokenizer: {
      vocabSize: 128,
      padId: 0,
      encode: (text) => ({ ids: [...text].map((c) => c.charCodeAt(0)) }),
    },
    encode: (g, inputs, hooks, opts) => tiny.encode(g, inputs, hooks, opts),
    pretrained: (p) => tiny.pretrained(p),
  };
}

describe('__NAME__ tokenizer (by hand)', () => {
  it('gives the wrapped tokenizer the lower-cased text: "Ab" → ids of "ab" = (97, 98)', () => {
    const b = new __CLASS__(charCodes());
    assert.deepEqual(b.tokenizer.encode('Ab').ids, [97, 98]);
    assert.deepEqual(charCodes().tokenizer.encode('Ab').ids, [65, 98]);
    assert.equal(b.tokenizer.vocabSize, 128);
  });
});
