#!/usr/bin/env node
/**
 * The test command (`npm test`): runs every compiled mocha suite of the workspace
 * (core/*, plugins/*, test/**) and ends with the plain summary line `N passed, N failed` that CI reads.
 *
 *   npm test                      all suites
 *   npm test -- graph bipeft      only suites whose path contains one of the words
 *   npm test -- --grep resume     only tests whose title matches
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Mocha from 'mocha';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
let grep;
const words = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--grep') grep = args[++i];
  // A source spec path (pkg/test/x.spec.ts) selects its compiled file (pkg/dist/test/x.spec.js).
  else words.push(args[i].replace(/^(.*[\\/])?test[\\/]([^\\/]+)\.spec\.ts$/, '$1dist/test/$2.spec.js'));
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith('.spec.js') && /[\\/]dist[\\/]test[\\/]/.test(p)) out.push(p);
  }
  return out;
}

const files = [];
for (const top of ['core', 'plugins', 'test']) {
  try {
    walk(join(root, top), files);
  } catch {
    /* folder absent */
  }
}
const selected = files
  .filter((f) => words.length === 0 || words.some((w) => relative(root, f).includes(w)))
  .sort();
if (selected.length === 0) {
  console.error('no compiled test files found: run `npm run build` first');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const mocha = new Mocha({ reporter: 'spec', timeout: 120_000, grep });
for (const f of selected) mocha.addFile(f);
await mocha.loadFilesAsync();
let passed = 0;
let failed = 0;
const runner = mocha.run((failures) => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failures ? 1 : 0;
});
runner.on('pass', () => passed++);
runner.on('fail', () => failed++);
