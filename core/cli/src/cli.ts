/**
 * The peftkit command line: strict yargs parsing, one module per command (commands/), errors
 * printed as `error: <message>` on stderr (stack traces only with --debug) with exit code 1, or 2
 * for usage errors (as POSIX tools and argparse do). Under --json an error is also the one JSON
 * document on stdout: `{"error": {"name", "message", ...}}`.
 */
import { ConfigError, DataError, PeftkitError, PluginError } from '@peftkit/api';
import { InterruptedError, UnexpectedPluginError } from '@peftkit/engine';
import yargs from 'yargs';
import { COMMANDS } from './commands/index.js';
import { processIO, type CliContext, type CliIO } from './context.js';
import { cliVersion, docsDir } from './version.js';

import { UsageError } from './errors.js';

export { UsageError };

/** Run the CLI on `argv` (without the node and script paths); resolves to the exit code. */
export async function main(
  argv: readonly string[],
  io: CliIO = processIO,
  cwd = process.cwd(),
): Promise<number> {
  const ctx: CliContext = { io, cwd, exitCode: 0 };
  const debug = argv.includes('--debug');
  const json = argv.includes('--json');
  let parser = yargs([...argv])
    .scriptName('peftkit')
    .usage('$0 <command> [options]')
    .option('debug', { type: 'boolean', default: false, describe: 'show stack traces of errors' })
    .strict()
    .recommendCommands()
    .demandCommand(1, 'choose a command (peftkit --help lists them)')
    .version(cliVersion())
    .help()
    .example('$0 search --preset quickstart', "the README's quickstart")
    .example('$0 plugin new my-estimator --kind importance-estimator', 'start a plugin package of your own')
    .epilog(
      `Documentation: ${docsDir()} (presets.md: presets and their fields; plugin-authoring.md and plugins/: ` +
        'writing plugins). Every command has --help with examples.',
    )
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      // Usage problems arrive as a message; errors thrown by command handlers as `err`.
      // Option values refused while parsing (coerce) arrive as yargs' own error: usage errors too.
      if (err && err.name === 'YError') throw new UsageError(err.message);
      if (err) throw err;
      // yargs' suggestion for a mistyped command names only the suggestion: name the command too.
      const word = argv.find((a) => !a.startsWith('-'));
      if (/^Did you mean/.test(msg) && word !== undefined)
        throw new UsageError(`unknown command ${JSON.stringify(word)}; d${msg.slice(1)}`);
      throw new UsageError(msg);
    });
  for (const factory of COMMANDS) parser = parser.command(factory(ctx) as never);
  try {
    checkBareOptions(argv);
    let printed = '';
    await parser.parseAsync([...argv], {}, (_err, _argv, output) => {
      printed = output;
    });
    if (printed) io.out(printed.endsWith('\n') ? printed : `${printed}\n`);
  } catch (e) {
    if (e instanceof InterruptedError) {
      const how = e.resume.map((r) => `  ${r}\n`).join('');
      io.err(`interrupted${how ? `; continue with:\n${how}` : '\n'}`);
      if (json) io.out(`${JSON.stringify({ error: errorDocument(e) }, null, 2)}\n`);
      return EXIT_INTERRUPTED;
    }
    io.err(formatError(e, debug));
    if (json) io.out(`${JSON.stringify({ error: errorDocument(e) }, null, 2)}\n`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
  return ctx.exitCode;
}

/** Options that need a value, given without one (`--set` as the last word, or before another option). */
const VALUE_OPTIONS = ['--set', '--preset', '--resume', '--out', '--architecture', '--reporter'];

function checkBareOptions(argv: readonly string[]): void {
  argv.forEach((a, i) => {
    const next = argv[i + 1];
    if (VALUE_OPTIONS.includes(a) && (next === undefined || next.startsWith('-')))
      throw new UsageError(`${a} needs a value${a === '--set' ? ' (path.to.field=value)' : ''}`);
  });
}

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, as shells report a process stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

/** An error as JSON: its kind, message and the place it names (file, line, field, plugin, hook). */
export function errorDocument(e: unknown): Record<string, unknown> {
  const err = e instanceof Error ? e : new Error(String(e));
  const doc: Record<string, unknown> = { name: err.name, message: err.message };
  if (err instanceof ConfigError) {
    // A list of problems (ConfigErrorList) places each one; a single one is placed at the top.
    const list = (err as { errors?: unknown }).errors;
    const items = Array.isArray(list) ? (list as ConfigError[]) : [err];
    if (items.length === 1)
      Object.assign(doc, { file: items[0]!.file, path: items[0]!.path, hint: items[0]!.hint });
    else doc.problems = items.map((p) => ({ file: p.file, path: p.path, message: p.message, hint: p.hint }));
  }
  if (err instanceof DataError) Object.assign(doc, { file: err.file, line: err.line });
  if (err instanceof PluginError) Object.assign(doc, { plugin: err.plugin, hook: err.hook });
  if (err instanceof UsageError) doc.usage = true;
  if (err instanceof InterruptedError) doc.resume = err.resume;
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
}

/** `error: <message>`; with --debug the stack and causes follow. */
export function formatError(e: unknown, debug: boolean): string {
  const err = e instanceof Error ? e : new Error(String(e));
  let text = `error: ${err.message}\n`;
  const isUsage = err instanceof UsageError;
  if (isUsage) text += 'run peftkit --help for usage\n';
  if (debug) {
    let cur: unknown = err;
    let first = true;
    while (cur instanceof Error) {
      text += `${first ? '' : 'caused by: '}${cur.stack ?? cur.message}\n`;
      first = false;
      cur = cur.cause;
    }
  } else if (err instanceof UnexpectedPluginError) {
    text += `(a bug in plugin ${err.plugin}: run again with --debug for the stack trace)\n`;
  } else if (!(err instanceof PeftkitError)) {
    text += '(an unexpected error: run again with --debug for the stack trace)\n';
  }
  return text;
}
