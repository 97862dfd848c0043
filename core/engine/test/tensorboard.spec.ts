import { expect } from 'chai';
import { crc32c, maskedCrc32c, scalarsOf, tfRecord } from '../src/index.js';

describe('TensorBoard event files', () => {
  it('CRC-32C matches the standard check value, and the mask is TFRecord’s', () => {
    const bytes = new TextEncoder().encode('123456789');
    expect(crc32c(bytes)).to.equal(0xe3069283);
    const c = 0xe3069283;
    expect(maskedCrc32c(bytes)).to.equal((((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0);
  });

  it('frames a record as length, masked CRC of the length, data, masked CRC of the data', () => {
    const data = new Uint8Array([1, 2, 3]);
    const r = tfRecord(data);
    expect(r.length).to.equal(8 + 4 + 3 + 4);
    expect(r.readBigUInt64LE(0)).to.equal(3n);
    expect(r.readUInt32LE(8)).to.equal(maskedCrc32c(r.subarray(0, 8)));
    expect([...r.subarray(12, 15)]).to.deep.equal([1, 2, 3]);
    expect(r.readUInt32LE(15)).to.equal(maskedCrc32c(data));
  });

  it('maps journal records to tags by phase and type, numbers only, arrays as their length', () => {
    expect(
      scalarsOf({
        type: 'step',
        phase: 'search',
        step: 5,
        epoch: 0,
        done: 5,
        total: 9,
        tau: 2,
        expected: 10,
        note: 'x',
      }),
    ).to.deep.equal({
      step: 5,
      values: [
        { tag: 'search/temperature', value: 2 },
        { tag: 'search/expected_trainable_params', value: 10 },
      ],
    });
    expect(
      scalarsOf({ type: 'round', phase: 'search', step: 7, pruned: ['a', 'b'], similarity: Infinity }),
    ).to.deep.equal({
      step: 7,
      values: [{ tag: 'search/round/modules_pruned', value: 2 }],
    });
    expect(
      scalarsOf({ type: 'epoch', phase: 'search', job: 'trial-2', step: 3, validation: { f1: 0.5 } }),
    ).to.deep.equal({
      step: 3,
      values: [{ tag: 'search/trial-2/validation/f1', value: 0.5 }],
    });
    expect(scalarsOf({ type: 'trial', phase: 'search', trial: 4, of: 9, score: 0.7 })!.step).to.equal(4);
    expect(scalarsOf({ type: 'setup', budget: { params: 3 } })).to.equal(null);
    expect(scalarsOf({ type: 'freeze', phase: 'search', step: 1, rank: 2 })).to.equal(null);
  });
});
