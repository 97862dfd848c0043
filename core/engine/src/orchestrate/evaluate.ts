/** `peftkit eval RUN_DIR`: score a finished run's trained model on a split of its task. */
import type { DataSplit, Metrics } from '@peftkit/api';
import { resolve } from 'node:path';
import { loadResolvedConfig } from '../config/load.js';
import { Workbench, passMemoryOf } from '@peftkit/runtime';
import { loadFinishedRun } from './export.js';

export interface EvaluateRunOptions {
  runDir: string;
  splits: DataSplit[];
  batchSize?: number;
  cwd?: string;
}

export async function evaluateRun(
  opts: EvaluateRunOptions,
): Promise<{ run: string; metrics: Partial<Record<DataSplit, Metrics>> }> {
  const cwd = opts.cwd ?? process.cwd();
  const run = await loadFinishedRun(resolve(cwd, opts.runDir), cwd);
  const { config, registry } = await loadResolvedConfig(run.dir.file('config.json'), { cwd });
  const log = { info() {}, warn() {}, debug() {} };
  const backend = await registry.create(
    'training-backend',
    config.backend,
    registry.context({ baseDir: run.dir.info.baseDirs?.backend ?? cwd, log }),
  );
  try {
    const wb = new Workbench({
      backbone: run.backbone,
      task: run.task,
      backend,
      types: run.types,
      seed: run.dir.info.seed,
      log,
      passMemory: passMemoryOf(config),
    });
    const metrics: Partial<Record<DataSplit, Metrics>> = {};
    for (const s of opts.splits)
      metrics[s] = await wb.evaluate(
        Workbench.specOf(run.architecture),
        run.params,
        {},
        s,
        opts.batchSize ?? 64,
      );
    return { run: run.dir.path, metrics };
  } finally {
    await backend.dispose();
  }
}
