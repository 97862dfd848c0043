/**
 * What travels over Redis: a cell job's data is its CellSpec (plain JSON); its return value is the
 * run directory's files, base64 in JSON, and the worker's name. Both sides check sizes and shapes.
 */
import type { CellOutput, CellSpec } from '@peftkit/api';

export interface WireOutput {
  worker: string;
  files: Record<string, string>;
}

const MB = 1024 * 1024;

/** The job data for a spec; throws when it is larger than `maxMB`. */
export function encodeSpec(spec: CellSpec, maxMB: number): CellSpec {
  const bytes = Buffer.byteLength(JSON.stringify(spec));
  if (bytes > maxMB * MB)
    throw new Error(`the cell's job is ${(bytes / MB).toFixed(2)} MiB, above maxJobMB (${maxMB} MiB)`);
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
