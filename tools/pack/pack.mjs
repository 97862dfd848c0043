#!/usr/bin/env node
/**
 * `npm run pack`: one npm tarball per publishable package of the workspace (every package that is
 * not private: @peftkit/* and the `peftkit` CLI), written to packs/ (or --out DIR), ready for
 * `npm install <tarballs>` in a directory outside the repository. Run after `npm run build`.
 *
 * The installed engine has no repository to find presets in, and the installed CLI none to point
 * at for docs: the repository's presets/ is copied into @peftkit/engine and docs/ into peftkit for
 * the time of packing (both packages list the folder in `files`; the copies are git-ignored).
 *
 *   npm run pack                  tarballs in packs/, their names on stdout as JSON
 *   npm run pack -- --out /tmp/p
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publishablePackages } from './packages.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = resolve(outIndex >= 0 ? args[outIndex + 1] : join(root, 'packs'));

const copies = [
  { from: join(root, 'presets'), to: join(root, 'core/engine/presets') },
  { from: join(root, 'docs'), to: join(root, 'core/cli/docs') },
];

const packages = publishablePackages(root);
for (const p of packages) {
  if (!existsSync(join(p.dir, 'dist'))) {
    console.error(`${p.name} is not built (no ${join(p.dir, 'dist')}): run npm run build first`);
    process.exit(1);
  }
}
mkdirSync(out, { recursive: true });
try {
  for (const c of copies) {
    rmSync(c.to, { recursive: true, force: true });
    cpSync(c.from, c.to, { recursive: true });
  }
  const json = execFileSync(
    'npm',
    ['pack', '--json', '--pack-destination', out, ...packages.flatMap((p) => ['-w', p.dir])],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const packed = JSON.parse(json);
  const tarballs = packed.map((p) => ({ name: p.name, version: p.version, file: join(out, p.filename) }));
  console.log(JSON.stringify({ dir: out, tarballs }, null, 2));
} finally {
  for (const c of copies) rmSync(c.to, { recursive: true, force: true });
}
