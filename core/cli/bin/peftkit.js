#!/usr/bin/env node
// The installed `peftkit` executable. It is a committed file rather than the build output
// (dist/src/main.js) because npm links bins while installing, before `npm ci`'s prepare step has
// run `tsc -b`: a bin pointing into dist/ is not linked on a clean install.
import '../dist/src/main.js';
