#!/usr/bin/env node
/** The `peftkit` executable. */
import { interruptActiveRuns, requestInterrupt } from '@peftkit/engine';
import { EXIT_INTERRUPTED, main } from './cli.js';

// Ctrl-C: a run stops at its next event and unwinds (journal record, backend disposed, lock
// released); main() then prints how to continue and exits with 130. A second Ctrl-C, or one while
// no run holds a directory, stops at once: checkpoints and results are written atomically, so
// only the work since the last checkpoint is lost, and the journals and locks are settled first.
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts === 1 && requestInterrupt('SIGINT')) {
    process.stderr.write('\nstopping after the current step (Ctrl-C again stops at once)\n');
    return;
  }
  const resumes = interruptActiveRuns('SIGINT');
  process.stderr.write(
    `\ninterrupted${resumes.length > 0 ? `; continue with:\n${resumes.map((r) => `  ${r}\n`).join('')}` : '\n'}`,
  );
  process.exit(EXIT_INTERRUPTED);
});

process.exitCode = await main(process.argv.slice(2));
