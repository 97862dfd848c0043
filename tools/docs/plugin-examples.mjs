#!/usr/bin/env node
/**
 * `npm run docs:plugins`: rewrite docs/plugins/<kind>.md from the scaffolder's templates
 * (core/cli/templates/), so that each worked example is exactly what `peftkit plugin new` writes.
 * Run after `npm run build`; core/cli's test fails while the docs and the templates differ.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXTENSION_KINDS } from '@peftkit/api';
import { kindDoc } from '../../core/cli/dist/src/scaffold/docs.js';

const dir = fileURLToPath(new URL('../../docs/plugins/', import.meta.url));
mkdirSync(dir, { recursive: true });
for (const kind of EXTENSION_KINDS) writeFileSync(join(dir, `${kind}.md`), kindDoc(kind));
console.log(`wrote ${EXTENSION_KINDS.length} files to ${dir}`);
