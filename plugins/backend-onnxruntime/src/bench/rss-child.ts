/**
 * Child process of the train-step benchmark that measures the peak memory of ONE program: it
 * builds the frozen weights, compiles only the forward or only the train program, runs it, and
 * reports its resident-set figures to the parent over IPC.
 */
import { OnnxRuntimeBackend } from '../backend.js';
import type { OnnxRuntimeOptions } from '../options.js';
import { type EncoderConfig, buildProgram, makeFeeds, makeFrozenWeights } from './model.js';
import { peakRssMiB, round, rssMiB } from './system.js';

export interface RssJob {
  kind: 'forward' | 'train';
  cfg: EncoderConfig;
  batch: number;
  seq: number;
  runs: number;
  seed: number;
  backend: OnnxRuntimeOptions;
}

export interface RssResult {
  kind: 'forward' | 'train';
  /** After Node started and loaded the modules. */
  startMiB: number;
  /** After the frozen weights were generated (JS side). */
  weightsMiB: number;
  /** Resident after the session was created (ORT's copy of the weights, prepacked buffers). */
  compiledMiB: number;
  /** Peak up to and including session creation. */
  peakCompileMiB: number;
  /** Peak over the whole process: the figure the benchmark compares. */
  peakMiB: number;
  runMs: number[];
}

async function measure(job: RssJob): Promise<RssResult> {
  const startMiB = rssMiB();
  const weights = makeFrozenWeights(job.cfg, job.seed);
  const weightsMiB = rssMiB();
  const backend = await OnnxRuntimeBackend.create(job.backend);
  try {
    const program = buildProgram(job.cfg, weights, job.kind);
    const compiled = await backend.compile(job.kind, () => program.graph);
    const compiledMiB = rssMiB();
    const peakCompileMiB = peakRssMiB();
    const feeds = makeFeeds(job.cfg, program, job.batch, job.seq, job.seed + 1);
    const fetches = program.outputs;
    const runMs: number[] = [];
    for (let i = 0; i < job.runs; i++) {
      const t0 = performance.now();
      await compiled.run(feeds, fetches);
      runMs.push(round(performance.now() - t0, 1));
    }
    return {
      kind: job.kind,
      startMiB: round(startMiB, 1),
      weightsMiB: round(weightsMiB, 1),
      compiledMiB: round(compiledMiB, 1),
      peakCompileMiB: round(peakCompileMiB, 1),
      peakMiB: round(peakRssMiB(), 1),
      runMs,
    };
  } finally {
    await backend.dispose();
  }
}

if (process.send) {
  process.once('message', (job: RssJob) => {
    measure(job).then(
      (result) => process.send!({ ok: true, result }, () => process.exit(0)),
      (e: unknown) =>
        process.send!({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }, () =>
          process.exit(1),
        ),
    );
  });
}
