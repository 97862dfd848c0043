/**
 * The engine's own contributions through the conformance kit: every reporter (tty on a terminal and
 * on a pipe, plain, jsonl and quiet; the ones that print write to a capturing sink instead of the
 * process streams) and the local executor, created through ENGINE_MODULE.
 */
import type { Reporter } from '@peftkit/api';
import { creator, describeExecutor, describeReporter, loadContributions, ofKind } from '@peftkit/testing';
import { expect } from 'chai';
import {
  ENGINE_MODULE,
  ENGINE_PLUGIN,
  JsonlReporter,
  PlainReporter,
  TtyReporter,
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

const contributions = await loadContributions(ENGINE_MODULE);
/** The sinks each printing reporter variant was created with. */
const sinks = new Map<string, Sink[]>();
const sink = (label: string, tty = false) => {
  const s = new Sink(tty);
  sinks.set(label, [...(sinks.get(label) ?? []), s]);
  return s;
};

/** Reporters by contribution name; those that print get a sink (several variants each). */
const reporters: Record<string, Record<string, () => Reporter | Promise<Reporter>>> = {
  tty: {
    'tty (terminal)': () => new TtyReporter(sink('tty (terminal)', true), { verbose: true, refreshMs: 0 }),
    'tty (pipe)': () => new TtyReporter(sink('tty (pipe)'), { verbose: false, refreshMs: 100 }),
  },
  plain: { plain: () => new PlainReporter(sink('plain'), { verbose: true, intervalMs: 0 }) },
  jsonl: { jsonl: () => new JsonlReporter(sink('jsonl')) },
  quiet: {
    quiet: creator(
      contributions,
      ofKind(contributions, 'reporter').find((c) => c.name === 'quiet')!,
    ),
  },
};

for (const variants of Object.values(reporters)) {
  for (const [label, factory] of Object.entries(variants)) describeReporter(label, factory);
}
for (const c of ofKind(contributions, 'executor')) describeExecutor(c.name, creator(contributions, c));

describe('engine contributions under the conformance kit', () => {
  it('covers every reporter and executor the engine contributes', () => {
    expect(
      ofKind(contributions, 'reporter')
        .map((c) => c.name)
        .sort(),
    ).to.deep.equal(Object.keys(reporters).sort());
    expect(Object.keys(reporters).sort()).to.deep.equal(
      [...ENGINE_PLUGIN.manifest.contributes.reporter!].sort(),
    );
    expect(ofKind(contributions, 'executor').map((c) => c.name)).to.deep.equal(
      ENGINE_PLUGIN.manifest.contributes.executor,
    );
  });

  it('the reporters that print wrote what they were sent', () => {
    expect([...sinks.keys()].sort()).to.deep.equal(['jsonl', 'plain', 'tty (pipe)', 'tty (terminal)']);
    for (const [label, list] of sinks) {
      expect(
        list.some((s) => s.text.includes('run-end') || s.text.includes('done')),
        label,
      ).to.equal(true);
    }
  });
});
