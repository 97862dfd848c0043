/**
 * The peftkit command line: strict yargs parsing, one module per command (commands/), errors
 * printed as `error: <message>` on stderr with exit code 1 (stack traces only with --debug).
 */
import { PeftkitError } from '@peftkit/api';
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
      if (err) throw err;
      throw new UsageError(msg);
    });
  for (const factory of COMMANDS) parser = parser.command(factory(ctx) as never);
  try {
    let printed = '';
    await parser.parseAsync([...argv], {}, (_err, _argv, output) => {
      printed = output;
    });
    if (printed) io.out(printed.endsWith('\n') ? printed : `${printed}\n`);
  } catch (e) {
    io.err(formatError(e, debug));
    return 1;
  }
  return ctx.exitCode;
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
  } else if (!(err instanceof PeftkitError)) {
    text += '(an unexpected error: run again with --debug for the stack trace)\n';
  }
  return text;
}
