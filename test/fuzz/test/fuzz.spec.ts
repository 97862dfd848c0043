/**
 * The fuzz suite: every bad input of cases-config.ts and cases-files.ts through the CLI's entry
 * function, in this process. Each must exit with its code, name the place, leak no stack trace,
 * stay within CASE_LIMITS, and leave every file that existed before unchanged.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_CASES } from './cases-config.js';
import { FILE_CASES } from './cases-files.js';
import { ROOT, checkCase, runCli, templates, tinyPreset } from './harness.js';

const CASES = [...CONFIG_CASES, ...FILE_CASES];

describe('fuzz: bad input never loses a run', function () {
  this.timeout(60_000);
  let tmp: string;

  before(async function () {
    this.timeout(180_000);
    tmp = mkdtempSync(join(tmpdir(), 'peftkit-fuzz-'));
    // A small Hugging Face checkpoint, damaged by the model-file cases.
    const tool = (await import(join(ROOT, 'tools/make-hf-checkpoint.mjs'))) as {
      makeHfCheckpoint(o: Record<string, unknown>): { dir: string };
    };
    templates.hfCheckpoint = tool.makeHfCheckpoint({
      type: 'bert',
      out: join(tmp, 'hf'),
      layers: 1,
      hidden: 8,
      heads: 2,
      positions: 32,
    }).dir;
    // A finished tiny run, copied and damaged by the run-directory cases.
    const base = join(tmp, 'template');
    rmSync(base, { recursive: true, force: true });
    mkdirSync(base);
    tinyPreset(base);
    const r = await runCli(
      ['search', '--preset', './tiny.yaml', '--checkpoint-every', '0', '--reporter', 'quiet'],
      base,
    );
    expect(r.code, r.stderr).to.equal(0);
    templates.finishedRun = join(base, 'runs', readdirSync(join(base, 'runs'))[0]!);
  });
  after(() => {
    delete process.env.PEFTKIT_PLUGIN_IMPORT_TIMEOUT;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('has at least 150 cases across presets, --set, the CLI, data, model files, run directories and plugins', () => {
    expect(CASES.length).to.be.at.least(150);
    const families = new Set(CASES.map((c) => c.family));
    expect([...families].sort()).to.deep.equal(['cli', 'data', 'model', 'plugin', 'preset', 'rundir', 'set']);
    const names = CASES.map((c) => `${c.family}: ${c.name}`);
    expect(new Set(names).size, 'case names are unique').to.equal(names.length);
  });

  for (const [i, c] of CASES.entries()) {
    it(`${c.family}: ${c.name}`, async () => {
      const dir = join(tmp, `case-${i}`);
      mkdirSync(dir);
      try {
        await checkCase(c, dir);
      } finally {
        delete process.env.PEFTKIT_PLUGIN_IMPORT_TIMEOUT;
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
