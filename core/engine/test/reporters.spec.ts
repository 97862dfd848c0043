import type { RunEvent } from '@peftkit/api';
import { expect } from 'chai';
import {
  JsonlReporter,
  PlainReporter,
  TtyReporter,
  formatEvent,
  formatNumber,
  type TextSink,
} from '../src/index.js';

class Sink implements TextSink {
  text = '';
  constructor(
    readonly isTTY = false,
    readonly columns = 80,
  ) {}
  write(s: string): void {
    this.text += s;
  }
}

const progress = (done: number, total: number, t: number, status?: string): RunEvent => ({
  type: 'progress',
  phase: 'search',
  done,
  total,
  t,
  ...(status ? { status } : {}),
});

describe('reporters', () => {
  it('formats events as one readable line', () => {
    expect(
      formatEvent({
        type: 'epoch',
        phase: 'retrain',
        t: 75_000,
        epoch: 2,
        loss: 0.532149,
        metrics: { accuracy: 0.9 },
      }),
    ).to.equal('[1:15] retrain epoch epoch=2 loss=0.5321 metrics={"accuracy":0.9}');
    expect(formatEvent({ type: 'prune', modules: ['a', 'b'], probs: new Float32Array(9) })).to.equal(
      'prune modules=[a, b] probs=[9 values]',
    );
    expect(formatEvent(progress(3, 12, 3_723_000, 'loss 0.41'))).to.equal(
      '[1:02:03] search 3/12 (25%) loss 0.41',
    );
    expect(formatNumber(1.5e-5)).to.equal('1.500e-5');
    expect(formatNumber(42)).to.equal('42');
  });

  it('plain: prints events, rate-limits progress lines and always prints the last one', () => {
    const out = new Sink();
    let now = 0;
    const r = new PlainReporter(out, { verbose: false, intervalMs: 2000 }, () => now);
    r.onEvent(progress(1, 10, 0));
    now = 500;
    r.onEvent(progress(2, 10, 500)); // too soon
    r.onEvent({ type: 'step', step: 2, loss: 1 }); // per-step: verbose only
    r.onEvent({ type: 'trial', index: 0, accuracy: 0.75 });
    now = 2600;
    r.onEvent(progress(5, 10, 2600));
    now = 2700;
    r.onEvent(progress(10, 10, 2700)); // final
    expect(out.text.split('\n').filter(Boolean)).to.deep.equal([
      '[0:00] search 1/10 (10%)',
      'trial index=0 accuracy=0.75',
      '[0:02] search 5/10 (50%)',
      '[0:02] search 10/10 (100%)',
    ]);
  });

  it('tty: draws a bar on a terminal, prints other events above it, ends the line on close', () => {
    const out = new Sink(true, 80);
    let now = 0;
    const r = new TtyReporter(out, { verbose: false, refreshMs: 100 }, () => now);
    r.onEvent(progress(3, 10, 61_000, 'loss 0.5 params 1.2k/2k'));
    expect(out.text).to.equal(
      '\r\x1b[2Ksearch █████████░░░░░░░░░░░░░░░░░░░░░ 3/10 30% 1:01 loss 0.5 params 1.2k/2k',
    );
    out.text = '';
    now = 50;
    r.onEvent(progress(4, 10, 61_050)); // within refreshMs: not drawn
    expect(out.text).to.equal('');
    r.onEvent({ type: 'round', round: 1, pruned: 3 });
    expect(out.text).to.equal(
      '\r\x1b[2Kround round=1 pruned=3\n\r\x1b[2Ksearch ████████████░░░░░░░░░░░░░░░░░░ 4/10 40% 1:01',
    );
    out.text = '';
    r.close();
    expect(out.text).to.equal('\n');
  });

  it('tty: fits the bar to narrow terminals and falls back to plain lines off a terminal', () => {
    const narrow = new Sink(true, 40);
    new TtyReporter(narrow, { verbose: false, refreshMs: 0 }).onEvent(
      progress(1, 2, 0, 'a long status text here'),
    );
    expect(narrow.text.replace('\r\x1b[2K', '').length).to.be.at.most(39);
    const pipe = new Sink(false);
    const r = new TtyReporter(pipe, { verbose: false, refreshMs: 0 });
    r.onEvent(progress(1, 2, 0));
    r.onEvent({ type: 'phase', phase: 'retrain' });
    expect(pipe.text).to.equal('[0:00] search 1/2 (50%)\nretrain phase\n');
  });

  it('jsonl: one JSON document per line, typed arrays as lists', () => {
    const out = new Sink();
    const r = new JsonlReporter(out);
    r.onEvent({ type: 'freeze', t: 5, logits: new Float32Array([0.5, 1]) });
    r.onEvent(progress(1, 2, 6));
    const lines = out.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as RunEvent);
    expect(lines).to.deep.equal([
      { type: 'freeze', t: 5, logits: [0.5, 1] },
      { type: 'progress', phase: 'search', done: 1, total: 2, t: 6 },
    ]);
  });

  it('never throws, even when the stream does', () => {
    const broken: TextSink = {
      write() {
        throw new Error('EPIPE');
      },
      isTTY: true,
    };
    expect(() =>
      new PlainReporter(broken, { verbose: true, intervalMs: 0 }).onEvent({ type: 'x' }),
    ).to.not.throw();
    expect(() => new JsonlReporter(broken).onEvent({ type: 'x' })).to.not.throw();
    const tty = new TtyReporter(broken, { verbose: true, refreshMs: 0 });
    expect(() => tty.onEvent(progress(1, 2, 0))).to.not.throw();
    expect(() => tty.close()).to.not.throw();
  });
});
