/**
 * JSON Schema validation (ajv, draft 2020-12) that reports problems users can act on: the path of
 * the offending value, the value, what was expected, and a "did you mean" hint for unknown names.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { ConfigPath } from '../config/origins.js';
import { didYouMean, showValue } from '../util/suggest.js';

/** One problem found in a configuration value. */
export interface Problem {
  /** Absolute path of the offending value (`strategy.options.lr`). */
  path: ConfigPath;
  /** What is wrong: names the value found and what was expected. */
  message: string;
  hint?: string;
  /** The file the value was read from, when not the one its path's origin names (an architecture JSON file). */
  file?: string;
  /** Set on the one summary line that stands for this many further problems, not translated. */
  omitted?: number;
}

/**
 * Schema errors translated into problems per validation; the rest are only counted, so that a
 * file with 50,000 unknown keys is answered in linear time with the first ones and a count.
 */
export const MAX_TRANSLATED_ERRORS = 200;

/**
 * Schema keyword that marks an option naming another component (a strategy's importance
 * estimator, say). Its value is the extension kind:
 *
 *   importance: { "x-peftkit-component": "importance-estimator", default: { name: "sensitivity" } }
 *
 * The engine completes the node to `{name, options}` shape and validates the named component's
 * options against that component's schema before anything runs.
 */
export const COMPONENT_KEYWORD = 'x-peftkit-component';

/** The schema of an option that names a component of `kind`. */
export function componentRefSchema(
  kind: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    type: 'object',
    [COMPONENT_KEYWORD]: kind,
    required: ['name'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, description: `registered ${kind} name` },
      options: { type: 'object', description: `options of the ${kind}` },
    },
    ...extra,
  };
}

export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    verbose: true,
    useDefaults: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allowUnionTypes: true,
    validateFormats: false,
  });
  ajv.addKeyword({ keyword: COMPONENT_KEYWORD, schemaType: 'string' });
  return ajv;
}

export type Validator = ValidateFunction;

/**
 * Validate `data` in place (schema defaults are written into it) and translate the errors into
 * problems under `base`.
 */
export function validateWith(validate: Validator, data: unknown, base: ConfigPath): Problem[] {
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  if (errors.length <= MAX_TRANSLATED_ERRORS) return translateErrors(errors, data, base);
  const omitted = errors.length - MAX_TRANSLATED_ERRORS;
  return [
    ...translateErrors(errors.slice(0, MAX_TRANSLATED_ERRORS), data, base),
    { path: base, message: `${omitted.toLocaleString('en-US')} further schema errors`, omitted },
  ];
}

type Schema = Record<string, unknown>;

function asSchema(v: unknown): Schema {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Schema) : {};
}

/** A JSON pointer into `data`, as a path (array indices as numbers). */
function pointerToPath(pointer: string, data: unknown): Array<string | number> {
  if (pointer === '') return [];
  const out: Array<string | number> = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const i = Number(seg);
      out.push(i);
      cur = cur[i];
    } else {
      out.push(seg);
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  number: 'a number',
  integer: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
  null: 'null',
};

function typeWords(t: unknown): string {
  const list = Array.isArray(t) ? t : String(t).split(',');
  return list.map((x) => TYPE_WORDS[String(x)] ?? String(x)).join(' or ');
}

function describeBranch(s: Schema): string {
  if ('const' in s) return showValue(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((x) => showValue(x)).join(' | ');
  if (typeof s.description === 'string') return s.description;
  if (s.type !== undefined) {
    const props = s.properties ? ` with keys ${Object.keys(asSchema(s.properties)).join(', ')}` : '';
    return `${typeWords(s.type)}${props}`;
  }
  return 'a value matching the schema';
}

/** Translate ajv errors into problems; branch errors of a failed oneOf/anyOf are folded into it. */
export function translateErrors(errors: readonly ErrorObject[], data: unknown, base: ConfigPath): Problem[] {
  const branchFailures = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // Errors inside the branches of a failed oneOf/anyOf are reported by that oneOf/anyOf.
    if (branchFailures.some((b) => b !== e && e.schemaPath.startsWith(`${b.schemaPath}/`))) continue;
    const at = [...base, ...pointerToPath(e.instancePath, data)];
    const result = translateOne(e, at, errors, data, base);
    for (const p of result === undefined ? [] : Array.isArray(result) ? result : [result]) {
      const k = JSON.stringify([p.path, p.message]);
      if (seen.has(k)) continue;
      seen.add(k);
      problems.push(p);
    }
  }
  return problems;
}

function translateOne(
  e: ErrorObject,
  at: Array<string | number>,
  all: readonly ErrorObject[],
  data: unknown,
  base: ConfigPath,
): Problem | Problem[] | undefined {
  const params = e.params as Record<string, unknown>;
  const parent = asSchema(e.parentSchema);
  // Only when a message shows it: rendering a whole object for every unknown key is quadratic.
  const got = () => `got ${showValue(e.data)}`;
  switch (e.keyword) {
    case 'type':
      return { path: at, message: `expected ${typeWords(params.type)}, ${got()}` };
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const k = String(params.additionalProperty ?? params.unevaluatedProperty);
      const allowed = Object.keys(asSchema(parent.properties));
      return {
        path: [...at, k],
        message:
          `unknown key ${JSON.stringify(k)}` +
          (allowed.length > 0 ? ` (expected one of: ${allowed.join(', ')})` : ' (no keys are accepted here)'),
        hint: didYouMean(k, allowed),
      };
    }
    case 'required': {
      const k = String(params.missingProperty);
      const desc = asSchema(asSchema(parent.properties)[k]).description;
      return {
        path: [...at, k],
        message: `missing required key ${JSON.stringify(k)}${typeof desc === 'string' ? ` (${desc})` : ''}`,
      };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      return {
        path: at,
        message: `expected one of ${allowed.map((x) => showValue(x)).join(', ')}, ${got()}`,
        hint: typeof e.data === 'string' ? didYouMean(e.data, allowed.map(String)) : undefined,
      };
    }
    case 'const':
      return { path: at, message: `expected ${showValue(params.allowedValue)}, ${got()}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return {
        path: at,
        message: `expected a number ${String(params.comparison)} ${String(params.limit)}, ${got()}`,
      };
    case 'multipleOf':
      return { path: at, message: `expected a multiple of ${String(params.multipleOf)}, ${got()}` };
    case 'minLength':
      return {
        path: at,
        message: `expected a string of at least ${String(params.limit)} characters, ${got()}`,
      };
    case 'maxLength':
      return {
        path: at,
        message: `expected a string of at most ${String(params.limit)} characters, ${got()}`,
      };
    case 'pattern':
      return { path: at, message: `expected a string matching /${String(params.pattern)}/, ${got()}` };
    case 'minItems':
      return { path: at, message: `expected at least ${String(params.limit)} items, ${got()}` };
    case 'maxItems':
      return { path: at, message: `expected at most ${String(params.limit)} items, ${got()}` };
    case 'uniqueItems':
      return {
        path: at,
        message: `expected unique items (items ${String(params.j)} and ${String(params.i)} are equal), ${got()}`,
      };
    case 'minProperties':
    case 'maxProperties': {
      const word = e.keyword === 'minProperties' ? 'at least' : 'at most';
      const desc = typeof parent.description === 'string' ? `: ${parent.description}` : '';
      return { path: at, message: `expected ${word} ${String(params.limit)} keys${desc}, ${got()}` };
    }
    case 'oneOf':
    case 'anyOf': {
      const branches = Array.isArray(e.schema) ? (e.schema as unknown[]).map(asSchema) : [];
      if (e.keyword === 'oneOf' && Array.isArray(params.passingSchemas)) {
        return {
          path: at,
          message: `matches more than one allowed form (${branches.map(describeBranch).join('; ')}), ${got()}`,
        };
      }
      // When exactly one branch has the value's type, its own errors are the useful ones.
      const typed = branches
        .map((b, i) => ({ b, i }))
        .filter(({ b }) => b.type !== undefined && typeMatches(b.type, e.data));
      if (typed.length === 1) {
        const prefix = `${e.schemaPath}/${typed[0]!.i}/`;
        const inner = all.filter((x) => x.schemaPath.startsWith(prefix));
        const sub = translateErrors(inner, data, base);
        if (sub.length > 0) return sub;
      }
      return { path: at, message: `expected ${branches.map(describeBranch).join(', or ')}; ${got()}` };
    }
    case 'if':
    case 'then':
    case 'else':
    case 'not':
    default:
      return { path: at, message: `${e.message ?? 'is invalid'}, ${got()}` };
  }
}

function typeMatches(type: unknown, v: unknown): boolean {
  const list = Array.isArray(type) ? type : [type];
  return list.some((t) => {
    switch (t) {
      case 'null':
        return v === null;
      case 'array':
        return Array.isArray(v);
      case 'object':
        return v !== null && typeof v === 'object' && !Array.isArray(v);
      case 'integer':
        return Number.isInteger(v);
      default:
        return typeof v === t;
    }
  });
}
