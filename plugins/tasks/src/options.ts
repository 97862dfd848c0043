/**
 * Option schemas of the tasks and a validator for the JSON Schema subset they use.
 *
 * The engine validates presets against `optionsSchema` before anything runs; the task builders are
 * also called directly (tests, other code), so they validate again with the same schema. Using one
 * schema for both keeps the documented options and the accepted options from drifting apart.
 */
import { ConfigError } from '@peftkit/api';

/** The JSON Schema subset used by the task options (a type alias, so it is a `JsonSchema`). */
export type OptionSchema = {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array';
  description?: string;
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  items?: OptionSchema;
  anyOf?: readonly OptionSchema[];
  properties?: Readonly<Record<string, OptionSchema>>;
  required?: readonly string[];
  additionalProperties?: false;
  default?: unknown;
};

/**
 * Check `options` against an object schema and return a copy with defaults filled in.
 * Errors are ConfigErrors naming the option path and what was expected.
 */
export function validateOptions(
  task: string,
  schema: OptionSchema,
  options: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const value = options ?? {};
  const problem = check(schema, value, 'options');
  if (problem) throw new ConfigError(`task '${task}': ${problem.message}`, undefined, problem.path);
  const out: Record<string, unknown> = { ...value };
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    if (out[key] === undefined && prop.default !== undefined) out[key] = structuredClone(prop.default);
  }
  return out;
}

interface Problem {
  path: string;
  message: string;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function typeMatches(type: NonNullable<OptionSchema['type']>, value: unknown): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    default:
      return typeof value === type;
  }
}

function check(schema: OptionSchema, value: unknown, path: string): Problem | undefined {
  if (schema.anyOf) {
    const problems = schema.anyOf.map((s) => check(s, value, path));
    if (problems.every((p) => p !== undefined)) {
      return {
        path,
        message: `expected ${schema.anyOf.map(expectation).join(' or ')}, found ${describe(value)}`,
      };
    }
    return undefined;
  }
  if (schema.type && !typeMatches(schema.type, value)) {
    return { path, message: `expected ${expectation(schema)}, found ${describe(value)}` };
  }
  if (schema.enum && !schema.enum.includes(value as string)) {
    return { path, message: `expected ${expectation(schema)}, found ${describe(value)}` };
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) {
      return { path, message: `expected a value >= ${schema.minimum}, found ${value}` };
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      return { path, message: `expected a value <= ${schema.maximum}, found ${value}` };
    }
  }
  if (typeof value === 'string' && schema.minLength !== undefined && value.length < schema.minLength) {
    return {
      path,
      message: `expected a string of at least ${schema.minLength} characters, found ${describe(value)}`,
    };
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      return { path, message: `expected at least ${schema.minItems} items, found ${value.length}` };
    }
    if (schema.items) {
      for (let i = 0; i < value.length; i++) {
        const p = check(schema.items, value[i], `${path}[${i}]`);
        if (p) return p;
      }
    }
  }
  if (schema.type === 'object') {
    const obj = value as Record<string, unknown>;
    const props = schema.properties ?? {};
    for (const key of schema.required ?? []) {
      if (obj[key] === undefined) return { path: `${path}.${key}`, message: 'required option is missing' };
    }
    for (const [key, v] of Object.entries(obj)) {
      const prop = props[key];
      if (!prop) {
        if (schema.additionalProperties === false) {
          return {
            path: `${path}.${key}`,
            message: `unknown option; expected one of ${Object.keys(props).join(', ')}`,
          };
        }
        continue;
      }
      if (v === undefined) continue;
      const p = check(prop, v, `${path}.${key}`);
      if (p) return p;
    }
  }
  return undefined;
}

function expectation(schema: OptionSchema): string {
  if (schema.enum) return `one of ${schema.enum.map((e) => `'${e}'`).join(', ')}`;
  if (schema.anyOf) return schema.anyOf.map(expectation).join(' or ');
  switch (schema.type) {
    case 'integer':
      return schema.minimum !== undefined ? `an integer >= ${schema.minimum}` : 'an integer';
    case 'array':
      return schema.items ? `an array of ${expectation(schema.items)}` : 'an array';
    case 'object':
      return 'an object';
    case undefined:
      return 'a value';
    default:
      return `a ${schema.type}`;
  }
}

/** The `splitSeed` option shared by every task. */
export const splitSeedOption: OptionSchema = {
  type: 'integer',
  minimum: 0,
  maximum: 4294967295,
  default: 0,
  description:
    'Seed of the data split (not the training seed): every run with the same splitSeed sees the same ' +
    'train/validation/test rows, whatever its training seed or search strategy.',
};
