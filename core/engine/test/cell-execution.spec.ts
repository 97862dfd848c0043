/**
 * A remote cell's files as the coordinator writes them: every artefact (TensorBoard's log, made
 * from the journal, included) before result.json, which marks the cell finished. A coordinator
 * stopped in between (here: the TensorBoard directory cannot be written) leaves no result.json, so
 * a resumed comparison runs the cell again and writes what was missing, without a second event file.
 */
import type { CellOutput, CellRunner } from '@peftkit/api';
import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteCellExecution, RunDir, type CellTask } from '../src/index.js';

describe('remote cells: result.json last', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), 'peftkit-cell-exec-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const text = (s: string) => new TextEncoder().encode(s);
  const output: CellOutput = {
    worker: 'w1',
    files: {
      'journal.jsonl': text(
        `${JSON.stringify({ seq: 1, t: 5, type: 'epoch', phase: 'retrain', epoch: 1, step: 3, trainLoss: 0.5 })}\n`,
      ),
      'architecture.json': text('{"modules":[]}\n'),
      'result.json': text('{"seed":1}\n'),
    },
  };
  const runner: CellRunner = { run: async () => output, settled: async () => {}, dispose: async () => {} };

  it('writes TensorBoard and every file before result.json; a cell stopped in between is completed on the next run', async () => {
    const runDir = RunDir.create(tmp, 'cell', 1, {});
    const task = {
      spec: { id: 'cell-1', title: 't', config: {}, baseDirs: {}, seed: 1, preset: null, plugins: [] },
      runDir,
      resuming: false,
      runOptions: { config: { output: { tensorboard: true } } },
    } as unknown as CellTask;
    const execution = new RemoteCellExecution(runner);

    // TensorBoard's directory cannot be made: the cell stops before result.json.
    writeFileSync(runDir.file('tensorboard'), 'in the way');
    let failed = false;
    await execution.run(task, () => {}).catch(() => (failed = true));
    expect(failed).to.equal(true);
    expect(existsSync(runDir.file('architecture.json'))).to.equal(true);
    expect(existsSync(runDir.file('result.json'))).to.equal(false);

    // Run again (a resumed comparison re-attaches to the finished job): everything is there once.
    rmSync(runDir.file('tensorboard'));
    const { result, worker } = await execution.run(task, () => {});
    expect(worker).to.equal('w1');
    expect(result).to.deep.equal({ seed: 1 });
    expect(existsSync(runDir.file('result.json'))).to.equal(true);
    expect(readdirSync(runDir.file('tensorboard')).filter((f) => f.includes('tfevents'))).to.have.length(1);
    await execution.run(task, () => {});
    expect(readdirSync(runDir.file('tensorboard')).filter((f) => f.includes('tfevents'))).to.have.length(1);
  });
});
