/**
 * `peftkit compare --preset NAME`: the preset's strategies x tasks x budgets x seeds, each a run,
 * then compare.json, compare.md and report.html in one comparison directory; `--resume DIR`
 * continues an interrupted comparison.
 */
import type { Reporter } from '@peftkit/api';
import { baseDirOf, displayPath, loadConfig, runCompare } from '@peftkit/engine';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { printJson, stderrLogger, type CliContext, type GlobalArgs } from '../context.js';
import {
  withConfigOptions,
  withJsonOption,
  withReporterOption,
  type ConfigArgs,
  type JsonArgs,
  type ReporterArgs,
} from '../options.js';

interface CompareArgs extends GlobalArgs, ConfigArgs, JsonArgs, ReporterArgs {
  resume?: string;
  checkpointEvery: number;
}

export function compareCommand(ctx: CliContext): CommandModule<GlobalArgs, CompareArgs> {
  return {
    command: 'compare',
    describe:
      'run several strategies on the same tasks, budgets and seeds and compare them (compare.json, compare.md, report.html)',
    builder: (y) =>
      withReporterOption(withJsonOption(withConfigOptions(y)))
        .option('resume', { type: 'string', describe: 'continue the comparison in this directory' })
        .option('checkpoint-every', {
          type: 'number',
          default: 30,
          describe: 'seconds between checkpoints of each run',
        }) as never,
    handler: async (args) => {
      const log = stderrLogger(ctx.io, args.debug);
      let loaded;
      if (args.resume) {
        loaded = await loadConfig({
          preset: resolve(ctx.cwd, args.resume, 'compare-config.json'),
          cwd: ctx.cwd,
        });
      } else {
        loaded = await loadConfig({ preset: args.preset, sets: args.set, cwd: ctx.cwd });
      }
      const { config, registry, origins } = loaded;
      const reporter: Reporter = await registry.create(
        'reporter',
        { name: args.reporter },
        registry.context({ baseDir: ctx.cwd, log }),
      );
      let result;
      try {
        result = await runCompare({
          config,
          registry,
          preset: args.preset ?? null,
          reporters: [reporter],
          log,
          checkpointSeconds: args.checkpointEvery,
          baseDirFor: (path) => baseDirOf(origins, path, ctx.cwd),
          resume: args.resume ? resolve(ctx.cwd, args.resume) : undefined,
        });
      } finally {
        await reporter.close?.();
      }
      if (args.json) return printJson(ctx.io, result);
      ctx.io.out(
        `comparison in ${displayPath(result.dir, ctx.cwd)}: ${result.cells.length} runs\n  ${displayPath(join(result.dir, 'compare.md'), ctx.cwd)}\n  ${displayPath(join(result.dir, 'report.html'), ctx.cwd)}\n`,
      );
    },
  };
}
