/**
 * Per-instance module options: JSON Schemas (for presets, validated by the engine before a run) and
 * the readers the module types use, which check the same rules again so that a program built
 * without the engine (tests, tools) fails with the same clear message instead of a wrong graph.
 */
import { ConfigError, type JsonSchema } from '@peftkit/api';

export type Options = Readonly<Record<string, unknown>>;

/** An options object schema: these properties only (misspelled options are errors). */
export function objectSchema(properties: Record<string, JsonSchema> = {}): JsonSchema {
  return { type: 'object', properties, additionalProperties: false };
}

function fail(type: string, key: string, value: unknown, expected: string): never {
  throw new ConfigError(
    `${value === undefined ? 'missing' : `got ${JSON.stringify(value)}`}, expected ${expected}`,
    undefined,
    `${type} module options.${key}`,
  );
}

/** Reject keys the type does not know (what `additionalProperties: false` says in the schema). */
export function checkKeys(type: string, options: Options, known: readonly string[]): void {
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) {
      throw new ConfigError(
        known.length
          ? `unknown option "${k}"; ${type} takes ${known.join(', ')}`
          : `unknown option "${k}"; ${type} takes no options`,
        undefined,
        `${type} module options`,
      );
    }
  }
}

export function enumOption<T extends string>(
  type: string,
  options: Options,
  key: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = options[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !allowed.includes(v as T)) fail(type, key, v, allowed.join(' | '));
  return v as T;
}

/** An integer >= 1; `fallback` null makes the option required. */
export function positiveIntOption(
  type: string,
  options: Options,
  key: string,
  fallback: number | null,
): number {
  const v = options[key];
  if (v === undefined && fallback !== null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(type, key, v, 'an integer >= 1');
  return v;
}

/** A finite number > 0 (LoRA `alpha`: 0 would switch the module off). */
export function positiveNumberOption(type: string, options: Options, key: string, fallback: number): number {
  const v = options[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) fail(type, key, v, 'a number > 0');
  return v;
}

/** A nested options object (prefix `reparam: { hidden }`), or null when absent. */
export function objectOption(type: string, options: Options, key: string): Options | null {
  const v = options[key];
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(type, key, v, 'an object');
  return v as Options;
}
