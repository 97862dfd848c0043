/**
 * The worker's side of a comparison cell: rebuild the run from its self-contained CellSpec with
 * this process's own plugins, run it in a temporary run directory, and return the directory's
 * files for the coordinator to write. The spec is checked before anything runs: its shape, the
 * plugins it needs (a worker loads only its own, never code a job names), and its configuration,
 * validated again against this worker's registry.
 */
import type { CellOutput, CellSpec, Logger, RunSpec } from '@peftkit/api';
import { ConfigError } from '@peftkit/api';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Origins } from '../config/origins.js';
import type { RunConfig } from '../config/types.js';
import { validateConfig } from '../config/validate.js';
import type { Registry } from '../plugins/registry.js';
import { RunDir } from '../run/rundir.js';
import { CELL_FILES } from './cell-execution.js';
import { runOne } from './run.js';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

const invalid = (what: string, field: string, expected: string): never => {
  throw new ConfigError(`invalid ${what}: ${field} must be ${expected}`);
};

/** Throws a ConfigError naming the first field of `value` (at `at`) that is not a RunSpec's. */
export function checkRunSpec(value: unknown, what: string, at = ''): RunSpec {
  const fail = (field: string, expected: string) => invalid(what, `${at}${field}`, expected);
  if (!isObject(value)) return fail(at ? at.slice(0, -1) : 'the job data', 'an object');
  const v = value;
  if (!isObject(v.config)) fail('config', 'an object (a resolved run configuration)');
  if (!isObject(v.baseDirs) || !Object.values(v.baseDirs).every((d) => typeof d === 'string'))
    fail('baseDirs', 'an object of directory strings');
  if (!Number.isInteger(v.seed) || (v.seed as number) < 0) fail('seed', 'a non-negative integer');
  if (!Array.isArray(v.plugins) || !v.plugins.every((p) => typeof p === 'string'))
    fail('plugins', 'an array of package names');
  return v as unknown as RunSpec;
}

/** Throws a ConfigError naming the first field of `value` that is not a CellSpec's. */
export function checkCellSpec(value: unknown): CellSpec {
  const v = checkRunSpec(value, 'cell job') as unknown as Record<string, unknown>;
  if (typeof v.id !== 'string' || !ID_RE.test(v.id))
    invalid('cell job', 'id', 'letters, digits, ".", "_" or "-" (at most 128)');
  if (typeof v.title !== 'string') invalid('cell job', 'title', 'a string');
  if (v.preset !== null && typeof v.preset !== 'string') invalid('cell job', 'preset', 'a string or null');
  return v as unknown as CellSpec;
}

/** Throws when `registry` lacks a plugin the run needs: a worker loads only its own plugins. */
export function checkWorkerPlugins(spec: RunSpec, registry: Registry, what: string): void {
  const loaded = new Set(registry.plugins().map((p) => p.name));
  const missing = spec.plugins.filter((p) => !loaded.has(p));
  if (missing.length > 0)
    throw new ConfigError(
      `this worker does not load the plugin${missing.length > 1 ? 's' : ''} ${missing.join(', ')} that the ${what} needs; start the worker with --plugins ${missing.join(',')}`,
    );
}

/** The spec's configuration validated again against this worker's registry, with no plugins of its own. */
export function workerConfig(spec: RunSpec, registry: Registry, cwd: string): RunConfig {
  return validateConfig(
    {
      // A worker never loads code a job names: only its own plugins are in `registry`.
      value: { ...structuredClone(spec.config), plugins: [] },
      origins: new Origins(),
      files: [],
      cwd,
    },
    registry,
  );
}

/** Run one cell in this process with `registry`'s plugins; returns its run directory's files. */
export async function runCellSpec(
  spec: CellSpec,
  registry: Registry,
  log: Logger,
  opts: { checkpointSeconds?: number } = {},
): Promise<Omit<CellOutput, 'worker'>> {
  checkCellSpec(spec);
  checkWorkerPlugins(spec, registry, `cell (${spec.title})`);
  const tmp = mkdtempSync(join(tmpdir(), 'peftkit-cell-'));
  try {
    const config = workerConfig(spec, registry, tmp);
    const baseDirFor = (path: (string | number)[]) => spec.baseDirs[String(path[0])] ?? tmp;
    const dir = RunDir.create(tmp, config.output.name, spec.seed, config, new Date(), {
      command: 'search',
      baseDirs: spec.baseDirs,
    });
    await runOne(
      {
        command: 'search',
        config,
        registry,
        preset: spec.preset,
        reporters: [],
        log,
        checkpointSeconds: opts.checkpointSeconds,
        baseDirFor,
      },
      spec.seed,
      dir,
      false,
    );
    const files: Record<string, Uint8Array> = {};
    for (const name of CELL_FILES) {
      const file = join(dir.path, name);
      if (existsSync(file)) files[name] = new Uint8Array(readFileSync(file));
    }
    return { files };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
