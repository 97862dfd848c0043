/** `peftkit serve [DIR ...]`: the live dashboard over run and comparison directories. */
import { isLoopback, startDashboard } from '@peftkit/engine';
import type { CommandModule } from 'yargs';
import type { CliContext, GlobalArgs } from '../context.js';

interface ServeArgs extends GlobalArgs {
  dirs: string[];
  port: number;
  host: string;
  token?: string;
}

export function serveCommand(ctx: CliContext): CommandModule<GlobalArgs, ServeArgs> {
  return {
    command: 'serve [dirs..]',
    describe: 'a live web dashboard of the runs and comparisons under the directories (default runs/)',
    builder: (y) =>
      y
        .positional('dirs', {
          type: 'string',
          array: true,
          default: ['runs'],
          describe: 'directories to watch',
        })
        .option('port', { type: 'number', default: 6007, describe: 'port (0: any free one)' })
        .option('host', {
          type: 'string',
          default: '127.0.0.1',
          describe: 'address to listen on; anything but loopback requires a token in the URL',
        })
        .option('token', {
          type: 'string',
          describe: 'the token the page must present (default: generated when --host is not loopback)',
        })
        .example('$0 serve', 'the runs under ./runs at http://127.0.0.1:6007')
        .example('$0 serve runs/ compare-runs/ --port 0', 'several directories, on any free port')
        .example(
          '$0 serve --host 0.0.0.0 --token s3cret',
          'reachable from other machines, with a token',
        ) as never,
    handler: async (args) => {
      const { resolve } = await import('node:path');
      const dirs = args.dirs.map((d) => resolve(ctx.cwd, d));
      const dash = await startDashboard({ dirs, host: args.host, port: args.port, token: args.token });
      ctx.io.out(`peftkit dashboard: ${dash.url}\n`);
      if (!isLoopback(args.host))
        ctx.io.err(
          `warning: listening on ${args.host}: anyone who can reach it and has the URL (with its token) sees these runs\n`,
        );
      ctx.io.err('watching ' + dirs.join(', ') + ' (Ctrl-C stops)\n');
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void dash.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    },
  };
}
