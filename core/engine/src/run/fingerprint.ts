/**
 * A run's fingerprint: a hash of its resolved configuration and the versions of the plugins that
 * were loaded, saved in every checkpoint. Resuming compares it with the configuration it is about
 * to use, so a config.json that was replaced or edited (another budget, another recipe) or a
 * plugin upgraded since the checkpoint never continues silently under different settings.
 */
import { ConfigError } from '@peftkit/api';
import { createHash } from 'node:crypto';

export interface RunFingerprint {
  /** sha256 of the canonical JSON of the resolved configuration. */
  config: string;
  /** Plugin package name → version. */
  plugins: Record<string, string>;
}

/** JSON with object keys sorted, so equal configurations hash equally whatever their key order. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (ArrayBuffer.isView(v)) return canonicalJson(Array.from(v as unknown as ArrayLike<number>));
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function runFingerprint(
  config: unknown,
  plugins: readonly { name: string; version: string }[],
): RunFingerprint {
  return {
    config: createHash('sha256').update(canonicalJson(config)).digest('hex'),
    plugins: Object.fromEntries(plugins.map((p) => [p.name, p.version])),
  };
}

/** Checkpoint metadata entries holding a fingerprint. */
export function fingerprintMeta(f: RunFingerprint): Record<string, string> {
  return { configHash: f.config, plugins: JSON.stringify(f.plugins) };
}

export function fingerprintFromMeta(meta: Record<string, string>): RunFingerprint | undefined {
  if (typeof meta.configHash !== 'string') return undefined;
  let plugins: Record<string, string> = {};
  try {
    plugins = JSON.parse(meta.plugins ?? '{}') as Record<string, string>;
  } catch {
    /* compared as empty */
  }
  return { config: meta.configHash, plugins };
}

/**
 * Throw a ConfigError when `current` differs from the fingerprint `saved` in `checkpointFile`
 * (`configFile` is the run's config.json): which part changed, and what to do.
 */
export function checkFingerprint(
  saved: RunFingerprint,
  current: RunFingerprint,
  configFile: string,
  checkpointFile: string,
): void {
  if (saved.config !== current.config) {
    throw new ConfigError(
      `the configuration differs from the one checkpoint ${checkpointFile} was written with (config hash ${current.config.slice(0, 12)}, checkpoint ${saved.config.slice(0, 12)}): config.json was replaced or edited after the run started`,
      configFile,
      undefined,
      'restore the run’s original config.json, or start a new run with the new configuration (peftkit search --preset ...)',
    );
  }
  const changed = Object.entries(saved.plugins)
    .filter(([name, v]) => current.plugins[name] !== v)
    .map(([name, v]) => `${name} ${v} → ${current.plugins[name] ?? 'not loaded'}`);
  if (changed.length > 0) {
    throw new ConfigError(
      `plugins changed since checkpoint ${checkpointFile} was written: ${changed.join(', ')}; a resumed run must use the versions it started with`,
      configFile,
      undefined,
      'install the plugin versions the run started with, or start a new run',
    );
  }
}
