#!/usr/bin/env node
/** The `peftkit` executable. */
import { interruptActiveRuns } from '@peftkit/engine';
import { EXIT_INTERRUPTED, main } from './cli.js';

// Ctrl-C: every checkpoint and result file is written atomically, so stopping at once loses only
// the work since the last checkpoint; the journals record the interruption, the directory locks
// are released, and the user learns how to continue.
process.once('SIGINT', () => {
  const resumes = interruptActiveRuns('SIGINT');
  process.stderr.write(
    `\ninterrupted${resumes.length > 0 ? `; continue with:\n${resumes.map((r) => `  ${r}\n`).join('')}` : '\n'}`,
  );
  process.exit(EXIT_INTERRUPTED);
});

process.exitCode = await main(process.argv.slice(2));
