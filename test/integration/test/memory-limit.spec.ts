/**
 * `memory.limitMiB` from the command line, as a user meets it: a run whose first program would take
 * the process over the limit stops before compiling it, with an error that names the setting, the
 * numbers and what to change; the run directory it leaves continues with a new limit
 * (`--resume DIR --set memory.limitMiB=N`), and only memory settings may change on a resume.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'core/cli/bin/peftkit.js');
const PLUGIN = fileURLToPath(new URL('../../fixtures/tiny-plugin', import.meta.url));

function peftkit(args: string[], cwd: string) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
}

describe('memory.limitMiB on the command line (tiny fixture plugin)', function () {
  this.timeout(180_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'peftkit-limit-'));
    writeFileSync(
      join(dir, 'tiny.yaml'),
      `plugins: [${JSON.stringify(PLUGIN)}]
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { train: 32, validation: 16, test: 16 } }
space: { name: s1, options: { ranks: [1, 2] } }
strategy: { name: bipeft, options: { pruneBeginEpoch: 0 } }
budget: { params: 300 }
seeds: [3]
recipes:
  search: { epochs: 2, batchSize: 8, lr: 0.003 }
  retrain: { epochs: 1, batchSize: 8, lr: 0.003 }
output: { dir: ${JSON.stringify(join(dir, 'runs'))}, name: tiny }
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a limit below what the process holds: refused before the first program, named, with the remedy; resumed with room, the run finishes', () => {
    const refused = peftkit(['search', '--preset', './tiny.yaml', '--set', 'memory.limitMiB=20'], dir);
    expect(refused.status).to.equal(1);
    const err = refused.stderr;
    expect(err).to.match(/error: memory\.limitMiB: program train:.*needs about \d+ MiB more memory to run/);
    expect(err).to.match(
      /but only 0 MiB is available \(memory\.limitMiB 20 less the \d+ MiB the process holds\)/,
    );
    expect(err).to.match(/hint: raise memory\.limitMiB \(now 20\), lower memory\.passMiB/);
    const runs = readdirSync(join(dir, 'runs'));
    expect(runs).to.have.length(1);
    const run = join(dir, 'runs', runs[0]!);
    expect(existsSync(join(run, 'result.json'))).to.equal(false);
    const journal = readFileSync(join(run, 'journal.jsonl'), 'utf8');
    expect(journal).to.match(/"type":"run-failed".*memory\.limitMiB/);

    const wrong = peftkit(['search', '--resume', run, '--set', 'seeds=[1]'], dir);
    expect(wrong.status).to.equal(2); // a usage error
    expect(wrong.stderr).to.match(/other than memory settings .*got --set seeds=\[1\]/);

    const resumed = peftkit(['search', '--resume', run, '--set', 'memory.limitMiB=100000', '--json'], dir);
    expect(resumed.status, resumed.stderr).to.equal(0);
    expect(resumed.stderr).to.match(/resuming with memory\.limitMiB=100000/);
    const result = JSON.parse(readFileSync(join(run, 'result.json'), 'utf8')) as { trainableParams: number };
    expect(result.trainableParams).to.be.greaterThan(0).and.at.most(300);
    // config.json keeps the settings the run started with.
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).memory).to.deep.include({
      limitMiB: 20,
    });
  });
});
