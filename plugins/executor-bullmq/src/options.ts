/**
 * The bullmq executor's options (preset `executor: { name: bullmq, options: {...} }`, or `peftkit
 * worker`'s flags), and the check of the Redis URL: a password is required unless `insecure`.
 */
import { ConfigError, type JsonSchema } from '@peftkit/api';

export interface BullmqOptions {
  /** `redis://:PASSWORD@HOST:PORT[/DB]`, or `rediss://` for TLS. */
  url: string;
  /** Accept a URL without a password (a Redis without AUTH on a trusted network). */
  insecure: boolean;
  /** The queue's name: coordinators and workers of one sweep use the same one. */
  queue: string;
  /** Coordinator: milliseconds between looks at its cells' jobs. */
  pollMs: number;
  /** Worker: how many cells it runs at the same time. */
  concurrency: number;
  /** Worker: how long its lock on a cell lasts without renewal (it renews every half of it). */
  lockMs: number;
  /** Worker: how often it looks for cells whose worker died (stalled jobs) and queues them again. */
  stalledMs: number;
  /** How often a cell may stall (its worker die) before it is failed. */
  maxStalledCount: number;
  /** Largest cell job (its configuration) in MiB. */
  maxJobMB: number;
  /** Largest cell result (its run directory's files) in MiB. */
  maxResultMB: number;
  /** Worker: its name in progress and status (default: host name and process id). */
  name?: string;
  /** TLS (`rediss://`): `ca`, a PEM file of the CA that signed the server's certificate (relative to the preset). */
  tls?: { ca?: string };
}

export const BULLMQ_OPTIONS_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: {
      type: 'string',
      pattern: '^rediss?://',
      description: 'redis://:PASSWORD@HOST:PORT, or rediss:// for TLS',
    },
    insecure: { type: 'boolean', default: false, description: 'accept a URL without a password' },
    queue: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', default: 'peftkit-cells' },
    pollMs: { type: 'integer', minimum: 10, default: 500 },
    concurrency: { type: 'integer', minimum: 1, default: 1 },
    lockMs: { type: 'integer', minimum: 100, default: 30000 },
    stalledMs: { type: 'integer', minimum: 100, default: 15000 },
    maxStalledCount: { type: 'integer', minimum: 0, default: 5 },
    maxJobMB: { type: 'number', exclusiveMinimum: 0, default: 1 },
    maxResultMB: { type: 'number', exclusiveMinimum: 0, maximum: 500, default: 256 },
    name: { type: 'string', pattern: '^[A-Za-z0-9._@-]+$' },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ca: {
          type: 'string',
          minLength: 1,
          description:
            "PEM file of the CA that signed the Redis server's certificate (rediss:// URLs), relative to the preset",
        },
      },
    },
  },
};

/** Refuse a URL that would connect without a password, unless `insecure`. */
export function checkRedisUrl(url: string, insecure: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      `not a Redis URL: expected redis://:PASSWORD@HOST:PORT or rediss://...`,
      undefined,
      'executor.options.url',
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new ConfigError(
      `the Redis URL must start with redis:// or rediss:// (TLS), not ${parsed.protocol}//`,
      undefined,
      'executor.options.url',
    );
  if (parsed.password === '' && !insecure)
    throw new ConfigError(
      `the Redis URL ${parsed.protocol}//${parsed.host} has no password: anyone who can write to the queue can make workers run cells, so peftkit requires one (redis://:PASSWORD@HOST:PORT, Redis's requirepass); for a Redis without AUTH on a trusted network pass --insecure (options.insecure: true)`,
      undefined,
      'executor.options.url',
    );
}

/** The URL without its password, for messages. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
