/**
 * `peftkit worker --redis URL [--concurrency N] [--plugins a,b]`: a long-running process that
 * takes comparison cells and search trials from the `bullmq` executor's queue and runs them with
 * its own plugins (the built-ins and `--plugins`, never code a job names). On SIGINT or SIGTERM it takes no new
 * cells and stops once the ones it runs have finished; a worker killed outright loses its lock and
 * another worker takes its cells again.
 */
import { ConfigError, type CellSpec } from '@peftkit/api';
import {
  checkCellSpec,
  loadPlugins,
  resolvePluginRef,
  runCellSpec,
  throwPluginFailures,
  TrialRunner,
  type PluginRef,
} from '@peftkit/engine';
import type { CommandModule } from 'yargs';
import { UsageError } from '../cli.js';
import { stderrLogger, type CliContext, type GlobalArgs } from '../context.js';

interface WorkerArgs extends GlobalArgs {
  redis: string;
  concurrency: number;
  plugins: string[];
  insecure: boolean;
  queue: string;
  name?: string;
  lockMs: number;
  stalledMs: number;
  maxStalledCount: number;
  maxJobMb: number;
  maxResultMb: number;
  checkpointEvery: number;
  tlsCa?: string;
}

export function workerCommand(ctx: CliContext): CommandModule<GlobalArgs, WorkerArgs> {
  return {
    command: 'worker',
    describe:
      'run comparison cells and search trials taken from a BullMQ queue over Redis (executor bullmq) until stopped',
    builder: (y) =>
      y
        .option('redis', {
          type: 'string',
          demandOption: true,
          describe:
            "redis://:PASSWORD@HOST:PORT (rediss:// for TLS), as in the coordinator's executor.options.url",
        })
        .option('concurrency', {
          type: 'number',
          default: 1,
          describe: 'cells or trials run at the same time',
        })
        .option('plugins', {
          type: 'string',
          array: true,
          default: [],
          describe:
            'plugins to load besides the built-ins (package names or ./paths; comma-separated or repeated)',
        })
        .option('insecure', {
          type: 'boolean',
          default: false,
          describe: 'accept a Redis URL without a password (a Redis without AUTH on a trusted network)',
        })
        .option('queue', {
          type: 'string',
          default: 'peftkit-cells',
          describe: 'the queue (as executor.options.queue)',
        })
        .option('name', {
          type: 'string',
          describe: "this worker's name in progress and status (default host-pid)",
        })
        .option('lock-ms', {
          type: 'number',
          default: 30000,
          describe: 'lock on a running cell; renewed every half',
        })
        .option('stalled-ms', {
          type: 'number',
          default: 15000,
          describe: 'how often to look for cells whose worker died and queue them again',
        })
        .option('max-stalled-count', {
          type: 'number',
          default: 5,
          describe: 'stalls after which a cell fails',
        })
        .option('max-job-mb', { type: 'number', default: 1, describe: 'largest cell job accepted (MiB)' })
        .option('max-result-mb', {
          type: 'number',
          default: 256,
          describe: 'largest cell result sent back (MiB)',
        })
        .option('tls-ca', {
          type: 'string',
          describe:
            "PEM file of the CA that signed the Redis server's certificate (rediss:// URLs; as executor.options.tls.ca)",
        })
        .option('checkpoint-every', {
          type: 'number',
          default: 30,
          describe: 'seconds between checkpoints of each run',
        })
        .example(
          '$0 worker --redis redis://:PASSWORD@10.0.0.5:6379',
          'take cells from the default queue until stopped',
        )
        .example(
          '$0 worker --redis redis://:PASSWORD@host:6379 --concurrency 2 --plugins ./my-plugin',
          "two cells at a time, with a plugin the comparison's presets load",
        ) as never,
    handler: async (args) => {
      const log = stderrLogger(ctx.io, args.debug);
      const refs: PluginRef[] = args.plugins
        .flatMap((p) => p.split(','))
        .map((p) => p.trim())
        .filter((p) => p !== '')
        .map((ref) => {
          const dir = resolvePluginRef(ref, ctx.cwd);
          if (!dir)
            throw new UsageError(`--plugins: ${ref} is neither an installed package nor a plugin directory`);
          return { ref, dir, origin: 'config' as const };
        });
      const { registry, failures } = await loadPlugins({ extra: refs, cwd: ctx.cwd });
      throwPluginFailures(failures);
      if (!registry.has('executor', 'bullmq'))
        throw new ConfigError('the bullmq executor is not loaded (plugin @peftkit/plugin-executor-bullmq)');
      const factory = await registry.create(
        'executor',
        {
          name: 'bullmq',
          options: {
            url: args.redis,
            insecure: args.insecure,
            queue: args.queue,
            concurrency: args.concurrency,
            lockMs: args.lockMs,
            stalledMs: args.stalledMs,
            maxStalledCount: args.maxStalledCount,
            maxJobMB: args.maxJobMb,
            maxResultMB: args.maxResultMb,
            ...(args.name !== undefined ? { name: args.name } : {}),
            ...(args.tlsCa !== undefined ? { tls: { ca: args.tlsCa } } : {}),
          },
        },
        registry.context({ baseDir: ctx.cwd, log }),
        { path: ['worker'] },
      );
      const trials = new TrialRunner(registry, args.concurrency);
      const worker = await factory.serveCells!({
        runCell: (spec: CellSpec, cellLog) =>
          runCellSpec(checkCellSpec(spec), registry, cellLog, { checkpointSeconds: args.checkpointEvery }),
        runTrial: (spec, trialLog) => trials.run(spec, trialLog),
        log,
      });
      await new Promise<void>((done) => {
        const stop = () => {
          log.info('stopping once the running cells and trials have finished');
          void worker
            .close()
            .then(() => trials.dispose())
            .then(done, done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    },
  };
}
