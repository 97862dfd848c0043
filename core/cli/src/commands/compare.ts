/**
 * `peftkit compare --preset NAME`: the preset's strategies x tasks x budgets x seeds, each a run,
 * then compare.json, compare.md and report.html in one comparison directory; `--resume DIR`
 * continues an interrupted comparison (skipping finished cells, and failed ones unless
 * `--retry-failed`). A failed cell does not stop the others; the command then exits with 1 and
 * lists the failed cells.
 */
import { DataError, type Reporter } from '@peftkit/api';
import { existsSync } from 'node:fs';
import { baseDirOf, displayPath, loadConfig, runCompare, shortError } from '@peftkit/engine';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { UsageError } from '../cli.js';
import { printJson, stderrLogger, type CliContext, type GlobalArgs } from '../context.js';
import {
  withCheckpointOption,
  withConfigOptions,
  withJsonOption,
  withReporterOption,
  type ConfigArgs,
  type JsonArgs,
  type ReporterArgs,
} from '../options.js';

interface CompareArgs extends GlobalArgs, ConfigArgs, JsonArgs, ReporterArgs {
  resume?: string;
  retryFailed: boolean;
  checkpointEvery: number;
}

export function compareCommand(ctx: CliContext): CommandModule<GlobalArgs, CompareArgs> {
  return {
    command: 'compare',
    describe:
      'run several strategies on the same tasks, budgets and seeds and compare them (compare.json, compare.md, report.html)',
    builder: (y) =>
      withCheckpointOption(
        withReporterOption(withJsonOption(withConfigOptions(y))),
        'seconds between checkpoints of each run',
      )
        .option('resume', {
          type: 'string',
          describe:
            'continue the comparison in this directory with its own configuration (finished and failed cells are kept)',
        })
        .option('retry-failed', {
          type: 'boolean',
          default: false,
          describe: 'with --resume: run the cells that failed again',
        })
        .example('$0 compare --preset compare-sentiment', 'every strategy on sentiment at two budgets')
        .example('$0 compare -p compare-sentiment --set seeds=[1]', 'one seed only')
        .example(
          '$0 compare --resume runs/compare-sentiment --retry-failed',
          'continue, running failed cells again',
        ) as never,
    handler: async (args) => {
      if (args.resume && (args.preset !== undefined || args.set.length > 0)) {
        throw new UsageError(
          '--resume continues a comparison with the configuration it was started with (compare-config.json in its directory); do not pass --preset or --set with it',
        );
      }
      if (args.retryFailed && !args.resume) {
        throw new UsageError(
          '--retry-failed runs the failed cells of an earlier comparison again: use it with --resume DIR',
        );
      }
      const log = stderrLogger(ctx.io, args.debug);
      let loaded;
      if (args.resume) {
        const dir = resolve(ctx.cwd, args.resume);
        if (!existsSync(dir)) throw new DataError('comparison directory not found', args.resume);
        if (!existsSync(join(dir, 'compare-config.json')))
          throw new DataError(
            'not a comparison directory: it has no compare-config.json (comparisons are created by `peftkit compare --preset NAME`)',
            args.resume,
          );
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
          origins: args.resume ? undefined : origins,
          resume: args.resume ? resolve(ctx.cwd, args.resume) : undefined,
          retryFailed: args.retryFailed,
        });
      } finally {
        await reporter.close?.();
      }
      if (args.json) printJson(ctx.io, result);
      else {
        const done = result.cells.length - result.failed.length;
        ctx.io.out(
          `comparison in ${displayPath(result.dir, ctx.cwd)}: ${done} runs${result.failed.length ? `, ${result.failed.length} failed` : ''}\n  ${displayPath(join(result.dir, 'compare.md'), ctx.cwd)}\n  ${displayPath(join(result.dir, 'report.html'), ctx.cwd)}\n`,
        );
      }
      if (result.failed.length > 0) {
        ctx.exitCode = 1;
        const lines = result.failed.map(
          (f) =>
            `  ${f.label}, ${f.task}, ${f.budget}, seed ${f.seed}: ${shortError(f.error, 160)}${f.dir ? `\n    run directory ${displayPath(f.dir, ctx.cwd)}` : ''}`,
        );
        ctx.io.err(
          `error: ${result.failed.length} of ${result.cells.length} cells of the comparison failed (the reports show them; their errors are in cells.json):\n${lines.join('\n')}\n` +
            `once the cause is fixed, run them again with: peftkit compare --resume ${displayPath(result.dir, ctx.cwd)} --retry-failed\n`,
        );
      }
    },
  };
}
