/** `peftkit plugin new NAME --kind KIND [--dir DIR] [--from PACKS]`: scaffold a plugin package. */
import { EXTENSION_KINDS } from '@peftkit/api';
import { displayPath } from '@peftkit/engine';
import type { CommandModule } from 'yargs';
import { printJson, type CliContext, type GlobalArgs } from '../context.js';
import { withJsonOption, type JsonArgs } from '../options.js';
import { kindTemplate, scaffoldPlugin } from '../scaffold/scaffold.js';
import type { ExtensionKind } from '@peftkit/api';

interface NewArgs extends GlobalArgs, JsonArgs {
  name: string;
  kind: string;
  dir?: string;
  from?: string;
}

export function pluginCommand(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  const create: CommandModule<GlobalArgs, NewArgs> = {
    command: 'new <name>',
    describe: 'scaffold a plugin package: a working example of the kind, its tests, presets and README',
    builder: (y) =>
      withJsonOption(y)
        .positional('name', {
          type: 'string',
          demandOption: true,
          describe: 'contribution name, lower-case words separated by - (the package is peftkit-plugin-NAME)',
        })
        .option('kind', {
          type: 'string',
          choices: EXTENSION_KINDS,
          demandOption: true,
          describe: 'extension kind of the example',
        })
        .option('dir', { type: 'string', describe: 'package directory (default ./peftkit-plugin-NAME)' })
        .option('from', {
          type: 'string',
          describe:
            'directory of @peftkit tarballs made by npm run pack: depend on them instead of registry versions',
        })
        .example('$0 plugin new grad-rms --kind importance-estimator', 'an importance estimator for BIPEFT')
        .example(
          '$0 plugin new my-space --kind search-space --dir plugins/my-space',
          'in a directory of your choice',
        )
        .example(
          '$0 plugin new my-task --kind task --from ../peftkit/packs',
          'depending on tarballs from npm run pack (no registry needed for peftkit)',
        ) as never,
    handler: (args) => {
      const r = scaffoldPlugin({
        name: args.name,
        kind: args.kind,
        dir: args.dir,
        from: args.from,
        cwd: ctx.cwd,
      });
      if (args.json) return printJson(ctx.io, r);
      const where = displayPath(r.dir, ctx.cwd);
      const command = kindTemplate(args.kind as ExtensionKind).command;
      ctx.io.out(
        `created ${r.packageName} in ${where}:\n${r.files.map((f) => `  ${f}\n`).join('')}\n` +
          `next:\n  cd ${where}\n  npm install && npm run build && npm test\n  npm run smoke        # peftkit ${command} with it, in seconds\n`,
      );
    },
  };
  return {
    command: 'plugin',
    describe: 'write plugins of your own',
    builder: (y) =>
      y
        .command(create)
        .demandCommand(1, 'choose a subcommand: new')
        .example('$0 plugin new my-estimator --kind importance-estimator', 'start a plugin package'),
    handler: () => {},
  };
}
