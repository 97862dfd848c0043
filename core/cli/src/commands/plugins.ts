/** `peftkit plugins list [--json] [--preset P]`: loaded plugins, their versions and contributions. */
import {
  applyOverrides,
  emptySource,
  loadPlugins,
  loadPreset,
  resolveConfigPlugins,
  throwProblems,
  type Registry,
} from '@peftkit/engine';
import type { PluginError } from '@peftkit/api';
import type { CommandModule } from 'yargs';
import { formatTable, printJson, type CliContext, type GlobalArgs } from '../context.js';
import { withConfigOptions, withJsonOption, type ConfigArgs, type JsonArgs } from '../options.js';

type ListArgs = GlobalArgs & JsonArgs & ConfigArgs;

export function pluginsCommand(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  const list: CommandModule<GlobalArgs, ListArgs> = {
    command: 'list',
    describe: 'list loaded plugins and what each contributes',
    builder: (y) =>
      withConfigOptions(withJsonOption(y))
        .example('$0 plugins list', 'the built-in plugins and what each contributes')
        .example('$0 plugins list --preset ./my-preset.yaml', "with the preset's plugins: too")
        .example('$0 plugins list --json', 'with every option schema, as JSON'),
    handler: async (args) => {
      let extra: Parameters<typeof loadPlugins>[0] = {};
      if (args.preset !== undefined || args.set.length > 0) {
        // A preset's `plugins:` are loaded too.
        let source =
          args.preset !== undefined ? loadPreset(args.preset, { cwd: ctx.cwd }) : emptySource(ctx.cwd);
        source = applyOverrides(source, args.set);
        const resolved = resolveConfigPlugins(source);
        throwProblems(resolved.problems, source.origins);
        extra = { extra: resolved.refs };
      }
      const { registry, failures } = await loadPlugins({ ...extra, cwd: ctx.cwd });
      if (failures.length > 0) ctx.exitCode = 1;
      if (args.json) printJson(ctx.io, pluginsReport(registry, failures));
      else ctx.io.out(pluginsText(registry, failures));
    },
  };
  return {
    command: 'plugins',
    describe: 'inspect plugins',
    builder: (y) =>
      y
        .command(list)
        .demandCommand(1, 'choose a subcommand: list')
        .example('$0 plugins list', 'loaded plugins and their contributions'),
    handler: () => {},
  };
}

export function pluginsReport(registry: Registry, failures: readonly PluginError[]) {
  return {
    plugins: registry.plugins().map((p) => ({
      name: p.name,
      version: p.version,
      origin: p.origin,
      dir: p.dir,
      description: p.description,
      contributions: registry
        .list()
        .filter((c) => c.plugin === p)
        .map((c) => ({
          kind: c.kind,
          name: c.name,
          description: c.description,
          optionsSchema: c.optionsSchema,
        })),
    })),
    failures: failures.map((f) => ({ plugin: f.plugin, hook: f.hook, message: f.message })),
  };
}

function pluginsText(registry: Registry, failures: readonly PluginError[]): string {
  let out = '';
  for (const p of registry.plugins()) {
    out += `${p.name} ${p.version} (${p.origin === 'builtin' ? 'built-in' : p.origin === 'config' ? 'from the preset' : 'engine'})\n`;
    const rows = registry
      .list()
      .filter((c) => c.plugin === p)
      .map((c) => [c.kind, c.name, c.description]);
    out += rows.length > 0 ? formatTable(rows, '  ') : '  (contributes nothing)\n';
  }
  if (failures.length > 0) {
    out += `\n${failures.length} plugin${failures.length > 1 ? 's' : ''} failed to load:\n`;
    for (const f of failures) out += `  ${f.message.replace(/\n/g, '\n    ')}\n`;
  }
  return out;
}
