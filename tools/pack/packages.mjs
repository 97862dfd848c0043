/** The workspace's publishable packages: every workspace package whose package.json is not private. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** [{ name, version, dir }] of the packages `npm run pack` packs, in the order of the workspaces. */
export function publishablePackages(root) {
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const dirs = [];
  for (const w of workspaces) {
    if (w.endsWith('/*')) {
      const parent = join(root, w.slice(0, -2));
      for (const d of readdirSync(parent).sort()) dirs.push(join(parent, d));
    } else dirs.push(join(root, w));
  }
  const out = [];
  for (const dir of dirs) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    if (!pkg.private) out.push({ name: pkg.name, version: pkg.version, dir });
  }
  return out;
}
