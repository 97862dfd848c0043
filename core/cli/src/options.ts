/** Option groups shared by commands (the run commands use the configuration options too). */
import type { Argv } from 'yargs';
import { UsageError } from './errors.js';

export interface ConfigArgs {
  preset?: string;
  set: string[];
}

/** `--preset NAME|PATH` and repeatable `--set path.to.field=value`. */
export function withConfigOptions<T>(y: Argv<T>): Argv<T & ConfigArgs> {
  return y
    .option('preset', {
      alias: 'p',
      type: 'string',
      describe: 'preset name (a file in presets/) or path to a preset file',
    })
    .option('set', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'override a field: --set strategy.options.lr=1e-3 (value parsed as YAML; repeatable)',
      coerce: (v: unknown[]) => {
        const list = (Array.isArray(v) ? v : [v]).map(String);
        if (list.some((s) => s === '' || !s.includes('=')))
          throw new UsageError(
            `--set expects path.to.field=value, got ${list.map((s) => JSON.stringify(s)).join(', ') || 'nothing'}`,
          );
        return list;
      },
    }) as unknown as Argv<T & ConfigArgs>;
}

/** `--checkpoint-every SECONDS`: a finite number of seconds, 0 or more. */
export function withCheckpointOption<T>(y: Argv<T>, describe: string): Argv<T & { checkpointEvery: number }> {
  return y.option('checkpoint-every', {
    type: 'number',
    default: 30,
    describe,
    coerce: (v: unknown) => {
      const n = typeof v === 'number' ? v : Number(v);
      if (!Number.isFinite(n) || n < 0)
        throw new UsageError(
          `--checkpoint-every expects a number of seconds, 0 or more, got ${Number.isNaN(n) ? 'something that is not a number' : String(v)}`,
        );
      return n;
    },
  }) as unknown as Argv<T & { checkpointEvery: number }>;
}

export interface JsonArgs {
  json: boolean;
}

export function withJsonOption<T>(y: Argv<T>): Argv<T & JsonArgs> {
  return y.option('json', {
    type: 'boolean',
    default: false,
    describe: 'print one JSON document on stdout (nothing else goes to stdout)',
  }) as unknown as Argv<T & JsonArgs>;
}

export interface ReporterArgs {
  reporter: string;
}

/** The reporter used when none is named: a progress bar on a terminal, plain lines otherwise. */
export function defaultReporter(stream: { isTTY?: boolean } = process.stderr): string {
  return stream.isTTY ? 'tty' : 'plain';
}

/**
 * `--reporter NAME`: any registered reporter (the engine's tty, plain, quiet, jsonl, or a
 * plugin's); create it with `registry.create('reporter', { name: args.reporter }, ctx)`.
 */
export function withReporterOption<T>(y: Argv<T>): Argv<T & ReporterArgs> {
  return y
    .option('quiet', {
      alias: 'q',
      type: 'boolean',
      describe: 'show no progress (same as --reporter quiet)',
    })
    .middleware((argv) => {
      if (argv.quiet) (argv as { reporter?: string }).reporter = 'quiet';
    })
    .option('reporter', {
      type: 'string',
      default: defaultReporter(),
      defaultDescription: 'tty on a terminal, else plain',
      describe:
        'how progress is shown: tty, plain, quiet, jsonl (events as JSON lines on stdout), or a plugin reporter',
    }) as unknown as Argv<T & ReporterArgs>;
}
