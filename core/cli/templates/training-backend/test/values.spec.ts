/** Counts against ones worked out by hand, around a scripted backend. */
import type { CompiledProgram, TrainingBackend } from '@peftkit/api';
import { Graph } from '@peftkit/graph';
import assert from 'node:assert/strict';
import { __CLASS__ } from '../src/index.js';

/** Compiles on a miss only; runs return nothing. */
function scripted(): TrainingBackend {
  const programs = new Map<string, CompiledProgram>();
  return {
    describe: () => ({ name: 'scripted', runtime: 'none', provider: 'cpu', available: ['cpu'], threads: 1 }),
    async compile(key, build) {
      if (!programs.has(key)) {
        build();
        programs.set(key, { inputs: [], outputs: [], run: async () => ({}) });
      }
      return programs.get(key)!;
    },
    release: async (key) => void programs.delete(key),
    dispose: async () => {},
  };
}

describe('__NAME__ counts (by hand)', () => {
  it('counts builds, cache hits and runs; a released key builds again', async () => {
    const lines: string[] = [];
    const b = new __CLASS__(scripted(), { info: (m) => lines.push(m), warn() {}, debug() {} });
    const a1 = await b.compile('a', () => new Graph());
    await b.compile('a', () => new Graph()); // reused
    await b.compile('b', () => new Graph());
    await a1.run({}, []);
    await a1.run({}, []);
    await b.release('a');
    await b.compile('a', () => new Graph()); // built again
    assert.deepEqual(b.counts, { compiled: 3, reused: 1, runs: 2 });
    await b.dispose();
    assert.deepEqual(lines, ['__NAME__: 3 programs compiled, 1 compiles reused, 2 runs']);
  });
});
