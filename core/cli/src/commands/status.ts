/**
 * `peftkit status DIR [--json]`: where each cell of a comparison is (queued, running on which
 * worker, done, failed, not started), from its cells.json, while it runs or after it finished.
 */
import { ConfigError } from '@peftkit/api';
import { displayPath, type CellPlan } from '@peftkit/engine';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { formatTable, printJson, type CliContext, type GlobalArgs } from '../context.js';
import { withJsonOption, type JsonArgs } from '../options.js';

interface StatusArgs extends GlobalArgs, JsonArgs {
  dir: string;
}

const STATES = ['pending', 'queued', 'running', 'done', 'failed'] as const;

export function statusCommand(ctx: CliContext): CommandModule<GlobalArgs, StatusArgs> {
  return {
    command: 'status <dir>',
    describe: "a comparison's cells: queued, running (on which worker), done, failed",
    builder: (y) =>
      withJsonOption(y)
        .positional('dir', {
          type: 'string',
          demandOption: true,
          describe: 'comparison directory',
        })
        .example(
          '$0 status runs/compare-sentiment',
          'cells queued, running (and on which worker), done, failed',
        )
        .example('$0 status runs/compare-sentiment --json', 'the same as JSON') as never,
    handler: (args) => {
      const dir = resolve(ctx.cwd, args.dir);
      const file = join(dir, 'cells.json');
      if (!existsSync(file)) throw new ConfigError('not a comparison directory (no cells.json)', dir);
      let cells: CellPlan[];
      try {
        cells = JSON.parse(readFileSync(file, 'utf8')) as CellPlan[];
      } catch (e) {
        throw new ConfigError(`cannot read the comparison's cells: ${(e as Error).message}`, file);
      }
      const rows = cells.map((c) => ({
        label: c.label,
        task: c.task.name,
        budget: c.budgetLabel,
        seed: c.seed,
        state: c.status ?? 'pending',
        ...(c.worker ? { worker: c.worker } : {}),
        ...(c.dir ? { dir: c.dir } : {}),
        ...(c.error ? { error: c.error } : {}),
      }));
      const counts = Object.fromEntries(STATES.map((s) => [s, rows.filter((r) => r.state === s).length]));
      const finished = existsSync(join(dir, 'compare.json')) && counts.done! + counts.failed! === rows.length;
      if (args.json) {
        printJson(ctx.io, { dir, finished, counts, cells: rows });
        return;
      }
      const table = formatTable([
        ['strategy', 'task', 'budget', 'seed', 'state'],
        ...rows.map((r) => [
          r.label,
          r.task,
          r.budget,
          String(r.seed),
          (r.state === 'running' || r.state === 'done') && r.worker
            ? `${r.state} on ${r.worker}`
            : r.state === 'failed'
              ? `failed: ${r.error ?? ''}`.slice(0, 100)
              : r.state,
        ]),
      ]);
      const summary = STATES.filter((s) => counts[s]! > 0)
        .map((s) => `${counts[s]} ${s}`)
        .join(', ');
      ctx.io.out(
        `${displayPath(dir, ctx.cwd)}: ${rows.length} cells, ${summary}${finished ? ' (finished)' : ''}\n${table}`,
      );
    },
  };
}
