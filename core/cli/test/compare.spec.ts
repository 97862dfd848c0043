/**
 * `peftkit compare` options: `--resume` continues a comparison with its own configuration, so
 * `--preset` and `--set` with it are usage errors (not silently ignored), and `--retry-failed`
 * only means something with `--resume`. (Comparisons that run are tested in the engine's
 * compare.spec.ts and in test/integration.)
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const TOY = join(FIXTURES, 'plugins', 'toy');

function peftkit(args: string[], cwd: string) {
  const env = { ...process.env, PEFTKIT_BUILTIN_PLUGINS: TOY };
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('peftkit compare: options', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'peftkit-cli-compare-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const extra of [
    ['--set', 'seeds=[1,2]'],
    ['--preset', 'demo'],
  ]) {
    it(`rejects --resume with ${extra[0]} as a usage error`, () => {
      const r = peftkit(['compare', '--resume', join(tmp, 'some-compare'), ...extra], tmp);
      expect(r.code).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(
        /^error: --resume continues a comparison with the configuration it was started with .*do not pass --preset or --set with it\nrun peftkit --help for usage\n$/,
      );
      expect(readdirSync(tmp)).to.deep.equal([]);
    });
  }

  it('rejects --retry-failed without --resume', () => {
    const r = peftkit(['compare', '--preset', join(FIXTURES, 'presets', 'demo.yaml'), '--retry-failed'], tmp);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(
      /^error: --retry-failed .* use it with --resume DIR\nrun peftkit --help for usage\n$/,
    );
  });

  it('lists --retry-failed in its help', () => {
    const r = peftkit(['compare', '--help'], tmp);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/--retry-failed +with --resume: run the cells that failed again/);
  });
});
