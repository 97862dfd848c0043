/**
 * Stopping on Ctrl-C without losing anything: the CLI's signal handler requests an interrupt, and
 * the run stops at its next event (a step, an epoch), unwinding normally: the journal records the
 * interruption, the backend is disposed, the directory lock is released. The error it stops with
 * carries the command lines that continue the work.
 */
import { PeftkitError } from '@peftkit/api';
import { heldLocks } from './lock.js';

export class InterruptedError extends PeftkitError {
  override name = 'InterruptedError';
  constructor(
    readonly reason: string,
    /** Command lines that continue the interrupted work (`peftkit search --resume DIR`). */
    readonly resume: readonly string[],
  ) {
    super(`interrupted (${reason})`);
  }
}

let requested: string | undefined;

/** Ask the running work to stop at its next event; whether any work holds a directory now. */
export function requestInterrupt(reason: string): boolean {
  requested = reason;
  return heldLocks().length > 0;
}

/** Throw an InterruptedError when an interrupt was requested (called at every run event). */
export function checkInterrupt(): void {
  if (requested === undefined) return;
  const resume = heldLocks()
    .map((l) => l.use.resume)
    .filter((r): r is string => r !== undefined);
  throw new InterruptedError(requested, resume);
}
