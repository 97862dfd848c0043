import { PeftkitError } from '@peftkit/api';

/** A command-line usage problem (unknown command or option, missing argument, conflicting options). */
export class UsageError extends PeftkitError {
  override name = 'UsageError';
}
