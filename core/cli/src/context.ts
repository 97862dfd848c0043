/** What command handlers get: output streams, the working directory, and the exit code to set. */
import type { Logger } from '@peftkit/api';

export interface CliIO {
  /** Standard output: results only (with --json, exactly one JSON document). */
  out(text: string): void;
  /** Standard error: progress, warnings, errors. */
  err(text: string): void;
}

export interface CliContext {
  readonly io: CliIO;
  readonly cwd: string;
  /** Exit code of the process once the command returns (0 unless a command reports a failure). */
  exitCode: number;
}

/** Options every command accepts. */
export interface GlobalArgs {
  debug: boolean;
}

export const processIO: CliIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** A logger writing to stderr; debug lines only with --debug. */
export function stderrLogger(io: CliIO, debug: boolean): Logger {
  return {
    info: (m) => io.err(`${m}\n`),
    warn: (m) => io.err(`warning: ${m}\n`),
    debug: (m) => {
      if (debug) io.err(`debug: ${m}\n`);
    },
  };
}

/** Print `value` as the one JSON document on stdout. */
export function printJson(io: CliIO, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns (the last column is not padded). */
export function formatTable(rows: readonly (readonly string[])[], indent = ''): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map(
      (r) =>
        indent +
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
    )
    .map((l) => `${l}\n`)
    .join('');
}
