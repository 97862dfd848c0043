/**
 * `peftkit doctor [--json]`: what peftkit runs on. Node and peftkit versions, platform, CPU, memory,
 * loaded plugins, and the training backend (created through the registry as a run would, with the
 * preset's `backend` when one is given): its runtime version and the execution providers it can
 * load. A failing check is reported on its own line and makes the exit code 1.
 */
import { API_VERSION, type BackendDescription, type ComponentRef } from '@peftkit/api';
import {
  applyOverrides,
  CONFIG_DEFAULTS,
  emptySource,
  engineVersion,
  isPlainObject,
  loadPlugins,
  loadPreset,
  gradientSelfCheck,
  type Registry,
  type SelfCheckResult,
} from '@peftkit/engine';
import { arch, availableParallelism, cpus, freemem, platform, release, totalmem } from 'node:os';
import type { CommandModule } from 'yargs';
import { formatTable, printJson, stderrLogger, type CliContext, type GlobalArgs } from '../context.js';
import { withConfigOptions, withJsonOption, type ConfigArgs, type JsonArgs } from '../options.js';
import { cliVersion } from '../version.js';

type BackendCheck =
  | ({ ok: true; ref: ComponentRef; gradients: GradientCheck } & BackendDescription)
  | { ok: false; ref: ComponentRef; error: string };

type GradientCheck =
  ({ ok: true; tolerance: number; passed: boolean } & SelfCheckResult) | { ok: false; error: string };

/** Worst relative error of the float32 finite-difference self-check that counts as a pass. */
const GRADIENT_TOLERANCE = 1e-2;

export interface DoctorReport {
  node: string;
  peftkit: { cli: string; engine: string; api: string };
  platform: { os: string; release: string; arch: string };
  cpu: { model: string; cores: number };
  memory: { totalBytes: number; freeBytes: number };
  plugins: {
    loaded: number;
    contributions: number;
    failures: Array<{ plugin: string; hook?: string; message: string }>;
  };
  backend: BackendCheck;
}

export function doctorCommand(
  ctx: CliContext,
): CommandModule<GlobalArgs, GlobalArgs & JsonArgs & ConfigArgs> {
  return {
    command: 'doctor',
    describe:
      'check the environment: versions, hardware, plugins, training backend and its execution providers',
    builder: (y) =>
      withConfigOptions(withJsonOption(y))
        .example('$0 doctor', 'versions, hardware, plugins and the training backend')
        .example('$0 doctor --preset ./my-preset.yaml', "also load and check a preset's plugins"),
    handler: async (args) => {
      let source =
        args.preset !== undefined ? loadPreset(args.preset, { cwd: ctx.cwd }) : emptySource(ctx.cwd);
      source = applyOverrides(source, args.set);
      const ref = (
        isPlainObject(source.value.backend) ? source.value.backend : CONFIG_DEFAULTS.backend
      ) as ComponentRef;
      const { registry, failures } = await loadPlugins({ cwd: ctx.cwd });
      const cpuList = cpus();
      const report: DoctorReport = {
        node: process.version,
        peftkit: { cli: cliVersion(), engine: engineVersion(), api: API_VERSION },
        platform: { os: platform(), release: release(), arch: arch() },
        cpu: { model: cpuList[0]?.model.trim() ?? 'unknown', cores: availableParallelism() },
        memory: { totalBytes: totalmem(), freeBytes: freemem() },
        plugins: {
          loaded: registry.plugins().length,
          contributions: registry.list().length,
          failures: failures.map((f) => ({ plugin: f.plugin, hook: f.hook, message: f.message })),
        },
        backend: await checkBackend(registry, ref, ctx, args.debug),
      };
      const g = report.backend.ok ? report.backend.gradients : null;
      if (!report.backend.ok || !g?.ok || !g.passed || failures.length > 0) ctx.exitCode = 1;
      if (args.json) printJson(ctx.io, report);
      else ctx.io.out(doctorText(report));
    },
  };
}

async function checkBackend(
  registry: Registry,
  ref: ComponentRef,
  ctx: CliContext,
  debug: boolean,
): Promise<BackendCheck> {
  try {
    const backend = await registry.create(
      'training-backend',
      ref,
      registry.context({ baseDir: ctx.cwd, log: stderrLogger(ctx.io, debug) }),
      {
        path: ['backend'],
      },
    );
    try {
      const description = backend.describe();
      // Autodiff through the backend against finite differences (a few small graphs).
      let gradients: GradientCheck;
      try {
        const check = await gradientSelfCheck(backend);
        gradients = {
          ok: true,
          ...check,
          tolerance: GRADIENT_TOLERANCE,
          passed: check.maxRelError <= GRADIENT_TOLERANCE,
        };
      } catch (e) {
        gradients = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      return { ok: true, ref, ...description, gradients };
    } finally {
      await backend.dispose();
    }
  } catch (e) {
    return { ok: false, ref, error: e instanceof Error ? e.message : String(e) };
  }
}

const GiB = 1024 ** 3;

function doctorText(r: DoctorReport): string {
  const b = r.backend;
  const failed = r.plugins.failures.length;
  const rows: string[][] = [
    ['node', r.node],
    ['peftkit', `${r.peftkit.cli} (engine ${r.peftkit.engine}, api ${r.peftkit.api})`],
    ['platform', `${r.platform.os} ${r.platform.release} ${r.platform.arch}`],
    ['cpu', `${r.cpu.model} (${r.cpu.cores} cores)`],
    [
      'memory',
      `${(r.memory.totalBytes / GiB).toFixed(1)} GiB total, ${(r.memory.freeBytes / GiB).toFixed(1)} GiB free`,
    ],
    [
      'plugins',
      `${r.plugins.loaded} loaded, ${r.plugins.contributions} contributions` +
        (failed > 0 ? `, ${failed} failed to load (see peftkit plugins list)` : ''),
    ],
    [
      'backend',
      b.ok
        ? `${b.ref.name}: ${b.runtime}, provider ${b.provider}, available ${b.available.join(', ')}, ${b.threads} threads`
        : `error: ${b.error.split('\n').join('\n' + ' '.repeat(12))}`,
    ],
    ...(b.ok
      ? [
          [
            'gradients',
            b.gradients.ok
              ? `self-check against finite differences: worst relative error ${b.gradients.maxRelError.toExponential(2)} over ${b.gradients.checks.length} graphs (${b.gradients.passed ? 'ok' : `FAILED, tolerance ${b.gradients.tolerance}`})`
              : `self-check failed: ${b.gradients.error.split('\n')[0]}`,
          ],
        ]
      : []),
  ];
  return formatTable(rows);
}
