/** Candidates on the 2-layer tiny backbone, listed by hand. */
import assert from 'node:assert/strict';
import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
import { tinyBackbone } from '@peftkit/testing';
import { __CLASS__ } from '../src/index.js';

const types = { get: (n: string) => builtinModuleTypes[n]!, names: () => Object.keys(builtinModuleTypes) };

describe('__NAME__ candidates (by hand)', () => {
  it('has LoRA on q and v of the top layers at the given ranks', () => {
    const space = new __CLASS__({ layers: 1, ranks: [2, 4] }).build(tinyBackbone().info, types);
    assert.deepEqual(
      space.candidates.map((c) => [c.id, c.ranks]),
      [
        ['lora@layer.1.attn.q', [2, 4]],
        ['lora@layer.1.attn.v', [2, 4]],
      ],
    );
    assert.equal(new __CLASS__().build(tinyBackbone().info, types).candidates.length, 4);
  });

  it('rejects ranks that are not ascending', () => {
    assert.throws(
      () => new __CLASS__({ ranks: [4, 2] }),
      /ranks: got \[4,2\], expected ascending positive integers/,
    );
  });
});
