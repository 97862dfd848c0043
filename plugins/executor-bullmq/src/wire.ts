/**
 * What travels over Redis: a cell job's data is its CellSpec (plain JSON); its return value is the
 * run directory's files, base64 in JSON, and the worker's name. A trial job's data is its
 * TrialSpec (plain JSON); its return value is the train job's result and events (typed arrays,
 * NaN and infinities kept exactly by the state codec) and the worker's name. Both sides check
 * sizes and shapes.
 */
import {
  decodeWire,
  encodeWire,
  type CellOutput,
  type CellSpec,
  type TrialOutput,
  type TrialSpec,
} from '@peftkit/api';

export interface WireOutput {
  worker: string;
  files: Record<string, string>;
}

const MB = 1024 * 1024;

/** The job data for a cell's or a trial's spec; throws when it is larger than `maxMB`. */
export function encodeSpec<S extends CellSpec | TrialSpec>(spec: S, maxMB: number): S {
  const bytes = Buffer.byteLength(JSON.stringify(spec));
  if (bytes > maxMB * MB)
    throw new Error(
      `the ${'job' in spec ? 'trial' : 'cell'}'s job is ${(bytes / MB).toFixed(2)} MiB, above maxJobMB (${maxMB} MiB)`,
    );
  return spec;
}

/** Throws when job data is larger than `maxMB` (the worker checks before it looks inside). */
export function checkJobSize(data: unknown, maxMB: number): void {
  const bytes = Buffer.byteLength(JSON.stringify(data ?? null));
  if (bytes > maxMB * MB)
    throw new Error(
      `the job's data is ${(bytes / MB).toFixed(2)} MiB, above this worker's maxJobMB (${maxMB} MiB)`,
    );
}

export function encodeOutput(out: CellOutput, maxMB: number): WireOutput {
  const files: Record<string, string> = {};
  let bytes = 0;
  for (const [name, data] of Object.entries(out.files)) {
    files[name] = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
    bytes += files[name].length;
  }
  if (bytes > maxMB * MB)
    throw new Error(
      `the cell's result is ${(bytes / MB).toFixed(1)} MiB encoded, above maxResultMB (${maxMB} MiB); raise executor.options.maxResultMB on the coordinator and --max-result-mb on the workers`,
    );
  return { worker: out.worker, files };
}

export function decodeOutput(value: unknown, maxMB: number): CellOutput {
  const v = value as Partial<WireOutput> | null;
  if (!v || typeof v !== 'object' || typeof v.worker !== 'string' || !v.files || typeof v.files !== 'object')
    throw new Error('the cell job returned something that is not a cell result ({ worker, files })');
  const files: Record<string, Uint8Array> = {};
  let bytes = 0;
  for (const [name, data] of Object.entries(v.files)) {
    if (typeof data !== 'string') throw new Error(`the cell result's file ${name} is not base64 text`);
    bytes += data.length;
    if (bytes > maxMB * MB) throw new Error(`the cell's result is above maxResultMB (${maxMB} MiB)`);
    files[name] = new Uint8Array(Buffer.from(data, 'base64'));
  }
  return { worker: v.worker, files };
}

export interface WireTrialOutput {
  worker: string;
  /** The TrialOutput, encoded by encodeWire. */
  output: string;
}

export function encodeTrialOutput(worker: string, out: TrialOutput, maxMB: number): WireTrialOutput {
  const output = encodeWire(out);
  if (output.length > maxMB * MB)
    throw new Error(
      `the trial's result is ${(output.length / MB).toFixed(1)} MiB encoded, above maxResultMB (${maxMB} MiB)`,
    );
  return { worker, output };
}

export function decodeTrialOutput(value: unknown, maxMB: number): TrialOutput & { worker: string } {
  const v = value as Partial<WireTrialOutput> | null;
  if (!v || typeof v !== 'object' || typeof v.worker !== 'string' || typeof v.output !== 'string')
    throw new Error('the trial job returned something that is not a trial result ({ worker, output })');
  if (v.output.length > maxMB * MB) throw new Error(`the trial's result is above maxResultMB (${maxMB} MiB)`);
  const out = decodeWire(v.output, 'the trial result') as Partial<TrialOutput> | null;
  if (!out || out.result?.kind !== 'train' || !Array.isArray(out.events))
    throw new Error('the trial job returned something that is not a train result with its events');
  return { worker: v.worker, result: out.result, events: out.events };
}
