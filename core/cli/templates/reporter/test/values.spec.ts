/** The summary line against one written by hand. */
import assert from 'node:assert/strict';
import { __CLASS__ } from '../src/index.js';

describe('__NAME__ summary (by hand)', () => {
  it('counts the events of the run by type and shows the first validation metric', () => {
    let text = '';
    const r = new __CLASS__({ write: (t: string) => (text += t) });
    r.onEvent({ type: 'run-start', run: 'r1' });
    r.onEvent({ type: 'step' });
    r.onEvent({ type: 'step' });
    r.onEvent({ type: 'run-end', run: 'r1', validation: { accuracy: 0.8125, f1: 0.5 } });
    assert.equal(text, '__NAME__: r1 1 run-start, 2 step, 1 run-end | validation accuracy 0.8125\n');
  });

  it('never throws, even when its stream does', () => {
    const r = new __CLASS__({
      write: () => {
        throw new Error('closed');
      },
    });
    r.onEvent({ type: 'run-end', run: 'r1' });
  });
});
