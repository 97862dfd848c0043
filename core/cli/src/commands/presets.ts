/** `peftkit presets list|show`: the presets found, and one preset fully resolved. */
import {
  applyOverrides,
  listPresets,
  loadConfig,
  loadPreset,
  toYamlText,
  type RunConfig,
} from '@peftkit/engine';
import type { CommandModule } from 'yargs';
import { formatTable, printJson, type CliContext, type GlobalArgs } from '../context.js';
import { withJsonOption, type JsonArgs } from '../options.js';

interface ShowArgs extends GlobalArgs, JsonArgs {
  name: string;
  set: string[];
  raw: boolean;
}

export function presetsCommand(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  const list: CommandModule<GlobalArgs, GlobalArgs & JsonArgs> = {
    command: 'list',
    describe: 'list the presets in presets/ (by file stem)',
    builder: (y) =>
      withJsonOption(y)
        .example('$0 presets list', 'name, description and parent of every preset')
        .example('$0 presets list --json', 'the same as JSON'),
    handler: (args) => {
      const presets = listPresets({ cwd: ctx.cwd });
      if (presets.some((p) => p.error)) ctx.exitCode = 1;
      if (args.json) return printJson(ctx.io, presets);
      if (presets.length === 0)
        return ctx.io.out('no presets found (looked in ./presets and the presets that come with peftkit)\n');
      ctx.io.out(
        formatTable(
          presets.map((p) => [
            p.name,
            p.error ? `error: ${p.error.split('\n')[0]}` : (p.description ?? ''),
            p.extends ? `extends ${p.extends}` : '',
          ]),
        ),
      );
    },
  };
  const show: CommandModule<GlobalArgs, ShowArgs> = {
    command: 'show <name>',
    describe:
      'print a preset fully resolved (extends merged, overrides applied, validated, defaults filled in)',
    builder: (y) =>
      withJsonOption(y)
        .positional('name', { type: 'string', demandOption: true, describe: 'preset name or path' })
        .option('set', {
          type: 'string',
          array: true,
          default: [] as string[],
          describe: 'override a field: --set path.to.field=value (repeatable)',
        })
        .option('raw', {
          type: 'boolean',
          default: false,
          describe: 'show the merged preset without loading plugins, validating or filling defaults',
        })
        .example('$0 presets show quickstart', 'the quickstart preset with every default filled in')
        .example('$0 presets show quickstart --set budget.ratio=0.01', 'with an override applied')
        .example('$0 presets show ./my-preset.yaml --raw', 'only merged, without loading plugins') as never,
    handler: async (args) => {
      let value: RunConfig | Record<string, unknown>;
      if (args.raw) {
        value = applyOverrides(loadPreset(args.name, { cwd: ctx.cwd }), args.set).value;
      } else {
        value = (await loadConfig({ preset: args.name, sets: args.set, cwd: ctx.cwd })).config;
      }
      if (args.json) printJson(ctx.io, value);
      else ctx.io.out(toYamlText(value));
    },
  };
  return {
    command: 'presets',
    describe: 'list and show presets',
    builder: (y) =>
      y
        .command(list)
        .command(show)
        .demandCommand(1, 'choose a subcommand: list or show')
        .example('$0 presets list', 'the presets found')
        .example('$0 presets show quickstart', 'one preset fully resolved'),
    handler: () => {},
  };
}
