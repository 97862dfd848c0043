/**
 * `peftkit plugin new` without installing anything (the test of test/integration builds, tests and
 * runs what it writes, from the packed tarballs): every kind's files with every placeholder filled,
 * the manifest and dependencies, the errors, and docs/plugins/ equal to the templates.
 */
import { EXTENSION_KINDS } from '@peftkit/api';
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli.js';
import { kindDoc } from '../src/scaffold/docs.js';
import { TOOL_VERSIONS, scaffoldPlugin } from '../src/scaffold/scaffold.js';
import { cliVersion } from '../src/version.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

describe('peftkit plugin new', function () {
  this.timeout(30_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'peftkit-scaffold-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const kind of EXTENSION_KINDS) {
    it(`writes a ${kind} package with every placeholder filled and the manifest declaring it`, () => {
      const r = scaffoldPlugin({ name: 'my-thing', kind, dir: kind, cwd: tmp });
      expect(r.files).to.include.members([
        'package.json',
        'tsconfig.json',
        '.mocharc.json',
        '.gitignore',
        'README.md',
        'src/index.ts',
        'src/plugin.ts',
        'src/my-thing.ts',
        'test/conformance.spec.ts',
        'test/values.spec.ts',
        'presets/my-thing.yaml',
        'presets/my-thing-smoke.yaml',
      ]);
      for (const f of r.files) {
        const text = readFileSync(join(r.dir, f), 'utf8');
        expect(text, f).not.to.match(/__[A-Z]+__/);
      }
      const pkg = JSON.parse(readFileSync(join(r.dir, 'package.json'), 'utf8'));
      expect(pkg.name).to.equal('peftkit-plugin-my-thing');
      expect(pkg.peftkit).to.deep.equal({
        apiVersion: `^${cliVersion()}`,
        module: './dist/src/plugin.js',
        contributes: { [kind]: ['my-thing'] },
      });
      expect(pkg.dependencies['@peftkit/api']).to.equal(cliVersion());
      expect(pkg.devDependencies).to.include({ '@peftkit/testing': cliVersion(), peftkit: cliVersion() });
      expect(pkg.scripts).to.include({ build: 'tsc -b', test: 'mocha' });
      expect(pkg.overrides).to.equal(undefined);
      expect(readFileSync(join(r.dir, 'src/my-thing.ts'), 'utf8')).to.match(/(class|const) MyThing\b/);
    });
  }

  it('depends on the tarballs of a pack directory with --from, every @peftkit package overridden', () => {
    const packs = join(tmp, 'packs');
    mkdirSync(packs);
    for (const f of [
      'peftkit-0.1.0.tgz',
      'peftkit-api-0.1.0.tgz',
      'peftkit-testing-0.1.0.tgz',
      'peftkit-graph-0.1.0.tgz',
    ])
      writeFileSync(join(packs, f), '');
    const r = scaffoldPlugin({ name: 'packed', kind: 'task', dir: 'packed', from: 'packs', cwd: tmp });
    const pkg = JSON.parse(readFileSync(join(r.dir, 'package.json'), 'utf8'));
    expect(pkg.dependencies['@peftkit/api']).to.equal(`file:${join(packs, 'peftkit-api-0.1.0.tgz')}`);
    expect(pkg.devDependencies.peftkit).to.equal(`file:${join(packs, 'peftkit-0.1.0.tgz')}`);
    expect(pkg.overrides['@peftkit/graph']).to.equal(`file:${join(packs, 'peftkit-graph-0.1.0.tgz')}`);
    expect(() => scaffoldPlugin({ name: 'p2', kind: 'search-space', from: 'packs', cwd: tmp })).to.throw(
      /--from: no tarball of @peftkit\/plugin-peft-modules in .*packs/,
    );
  });

  it('rejects a bad name, an unknown kind and a directory that is not empty, saying which', async () => {
    expect(() => scaffoldPlugin({ name: 'My_Thing', kind: 'task', cwd: tmp })).to.throw(
      /NAME: "My_Thing" is not a contribution name/,
    );
    expect(() => scaffoldPlugin({ name: 'x', kind: 'tasks', cwd: tmp })).to.throw(
      /--kind: unknown extension kind "tasks"/,
    );
    expect(() => scaffoldPlugin({ name: 'x', kind: 'task', dir: 'task', cwd: tmp })).to.throw(
      /task exists and is not empty/,
    );
    let err = '';
    const code = await main(
      ['plugin', 'new', 'x', '--kind', 'tsk'],
      { out: () => {}, err: (t) => void (err += t) },
      tmp,
    );
    expect(code).to.equal(2); // a usage error, as every invalid option value is
    expect(err).to.match(/Invalid values:[\s\S]*tsk/);
  });

  it('builds with the tool versions of the repository', () => {
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const [name, version] of Object.entries(TOOL_VERSIONS))
      expect(root.devDependencies[name], name).to.equal(version);
  });

  it('docs/plugins/ shows exactly what the templates write (npm run docs:plugins rewrites it)', () => {
    for (const kind of EXTENSION_KINDS)
      expect(
        readFileSync(join(ROOT, 'docs/plugins', `${kind}.md`), 'utf8'),
        `docs/plugins/${kind}.md`,
      ).to.equal(kindDoc(kind));
  });
});
