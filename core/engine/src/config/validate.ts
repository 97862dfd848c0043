/**
 * Validation of a merged preset against the core schema and every named component's options
 * schema, then completion with defaults. All problems are collected and thrown together, each
 * naming the file (and line) the offending value was written in.
 */
import type { Architecture, ComponentRef, ExtensionKind, TrainRecipe } from '@peftkit/api';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Registry } from '../plugins/registry.js';
import { createAjv, validateWith, type Problem } from '../schema/problems.js';
import { displayPath } from '../util/paths.js';
import { didYouMean } from '../util/suggest.js';
import { throwProblems } from './errors.js';
import { DEFAULTS, isPlainObject, Origins, type ConfigPath } from './origins.js';
import type { PresetSource } from './preset.js';
import { ARCHITECTURE_SCHEMA, CONFIG_SCHEMA } from './schema.js';
import {
  COMPONENT_FIELDS,
  CONFIG_DEFAULTS,
  DEFAULT_RECIPE,
  type CompareSpec,
  type RunConfig,
} from './types.js';

const ajv = createAjv();
const validateCore = ajv.compile(CONFIG_SCHEMA);
const validateArchitecture = ajv.compile(ARCHITECTURE_SCHEMA);

export interface ValidateOptions {
  /** Resolved plugin directories of the `plugins:` field (see resolveConfigPlugins). */
  pluginDirs?: readonly string[];
  /** Problems found earlier (unresolvable plugins), reported together with these. */
  problems?: readonly Problem[];
}

/** The directory relative paths written at `path` resolve against: the file's, else the working directory. */
export function baseDirOf(origins: Origins, path: ConfigPath, cwd: string): string {
  return origins.get(path)?.dir ?? cwd;
}

/**
 * Validate `source` against the core schema and the registry, and complete it with defaults.
 * Throws a ConfigErrorList with every problem.
 */
export function validateConfig(
  source: PresetSource,
  registry: Registry,
  opts: ValidateOptions = {},
): RunConfig {
  const raw = structuredClone(source.value);
  const origins = source.origins.clone();
  const problems: Problem[] = [...(opts.problems ?? []), ...validateWith(validateCore, raw, [])];

  // Components, including defaults (their origin is `defaults`), so a missing backend is found now.
  const refs: Partial<Record<string, ComponentRef>> = {};
  for (const [field, kind] of COMPONENT_FIELDS) {
    let ref = raw[field];
    if (ref === undefined) {
      const def =
        field === 'backend'
          ? CONFIG_DEFAULTS.backend
          : field === 'executor'
            ? CONFIG_DEFAULTS.executor
            : undefined;
      if (!def) continue;
      ref = structuredClone(def);
      origins.fill([field], ref, DEFAULTS);
    }
    const r = registry.checkComponent(kind as ExtensionKind, ref, [field]);
    problems.push(...r.problems);
    refs[field] = r.ref;
  }

  // The comparison grid: every strategy, space and task it names is checked like the top level.
  let compare: CompareSpec | undefined;
  if (isPlainObject(raw.compare)) {
    const c = raw.compare as unknown as CompareSpec;
    const out: CompareSpec = { strategies: [] };
    const labels = new Set<string>();
    (Array.isArray(c.strategies) ? c.strategies : []).forEach((st, i) => {
      if (!isPlainObject(st)) return;
      const path = ['compare', 'strategies', i];
      if (labels.has(st.label))
        problems.push({
          path: [...path, 'label'],
          message: `label ${JSON.stringify(st.label)} is used twice`,
        });
      labels.add(st.label);
      const strategy = registry.checkComponent('search-strategy', st.strategy, [...path, 'strategy']);
      problems.push(...strategy.problems);
      const space = st.space
        ? registry.checkComponent('search-space', st.space, [...path, 'space'])
        : undefined;
      if (space) problems.push(...space.problems);
      out.strategies.push({ ...st, strategy: strategy.ref, ...(space ? { space: space.ref } : {}) });
    });
    for (const st of out.strategies) {
      if (st.matchComputeOf !== undefined && !labels.has(st.matchComputeOf)) {
        problems.push({
          path: ['compare', 'strategies', out.strategies.indexOf(st), 'matchComputeOf'],
          message: `no strategy is labelled ${JSON.stringify(st.matchComputeOf)} (labels: ${[...labels].join(', ')})`,
        });
      }
    }
    if (Array.isArray(c.tasks)) {
      out.tasks = c.tasks.map((t, i) => {
        const r = registry.checkComponent('task', t, ['compare', 'tasks', i]);
        problems.push(...r.problems);
        return r.ref;
      });
    }
    if (Array.isArray(c.budgets)) out.budgets = c.budgets;
    compare = out;
  }

  let architecture: Architecture | undefined;
  if (raw.architecture !== undefined) {
    architecture = checkArchitecture(raw.architecture, origins, source.cwd, registry, problems);
  }
  problems.push(...checkDropout(raw));

  throwProblems(
    problems,
    origins,
    source.files.length > 0 ? displayPath(source.files[0]!, source.cwd) : 'command line',
  );

  const recipes = (isPlainObject(raw.recipes) ? raw.recipes : {}) as {
    search?: Partial<TrainRecipe>;
    retrain?: Partial<TrainRecipe>;
  };
  const output = (isPlainObject(raw.output) ? raw.output : {}) as {
    dir?: string;
    name?: string;
    tensorboard?: boolean;
  };
  const config: RunConfig = {
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    plugins: [...(opts.pluginDirs ?? [])],
    backbone: refs.backbone!,
    task: refs.task!,
    ...(refs.space ? { space: refs.space } : {}),
    ...(refs.strategy ? { strategy: refs.strategy } : {}),
    ...(raw.budget !== undefined ? { budget: raw.budget as RunConfig['budget'] } : {}),
    ...(architecture ? { architecture } : {}),
    // Resolved here, like the architecture file: a run's config.json then holds the absolute path.
    ...(typeof raw.initAdapter === 'string'
      ? { initAdapter: resolve(baseDirOf(origins, ['initAdapter'], source.cwd), raw.initAdapter) }
      : {}),
    ...(compare ? { compare } : {}),
    seeds: Array.isArray(raw.seeds) ? (raw.seeds as number[]) : [...CONFIG_DEFAULTS.seeds],
    recipes: { search: completeRecipe(recipes.search), retrain: completeRecipe(recipes.retrain) },
    backend: refs.backend!,
    executor: refs.executor!,
    ...(isPlainObject(raw.memory) ? { memory: raw.memory as RunConfig['memory'] } : {}),
    output: {
      dir: output.dir ?? CONFIG_DEFAULTS.outputDir,
      name: output.name ?? source.name ?? CONFIG_DEFAULTS.outputName,
      // Absent means on (config.json stays as before for presets that do not mention it).
      ...(output.tensorboard !== undefined ? { tensorboard: output.tensorboard } : {}),
    },
  };
  return config;
}

/** A recipe: `partial` over DEFAULT_RECIPE. */
export function completeRecipe(partial: Partial<TrainRecipe> | undefined): TrainRecipe {
  return { ...DEFAULT_RECIPE, betas: [...DEFAULT_RECIPE.betas] as [number, number], ...(partial ?? {}) };
}

function checkArchitecture(
  value: unknown,
  origins: Origins,
  cwd: string,
  registry: Registry,
  problems: Problem[],
): Architecture | undefined {
  let arch: unknown = value;
  let file: string | undefined;
  if (typeof value === 'string') {
    const path = resolve(baseDirOf(origins, ['architecture'], cwd), value);
    file = displayPath(path, cwd);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      problems.push({
        path: ['architecture'],
        message: `cannot read architecture file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (expected a JSON file {"modules": [...]})`,
      });
      return undefined;
    }
    try {
      arch = JSON.parse(text);
    } catch (e) {
      problems.push({
        path: ['architecture'],
        file,
        message: `architecture file is not valid JSON: ${(e as Error).message}`,
      });
      return undefined;
    }
    problems.push(...validateWith(validateArchitecture, arch, ['architecture']).map((p) => ({ ...p, file })));
  } else if (!isPlainObject(value)) {
    return undefined; // the core schema reported it
  }
  const a = arch as Architecture & { targets?: unknown[] };
  if (!isPlainObject(a)) return undefined;
  const types = registry.names('peft-module');
  const entries: [string, unknown, number][] = [
    ...(Array.isArray(a.modules)
      ? a.modules.map((m, i) => ['modules', m, i] as [string, unknown, number])
      : []),
    ...(Array.isArray(a.targets)
      ? a.targets.map((m, i) => ['targets', m, i] as [string, unknown, number])
      : []),
  ];
  entries.forEach(([field, m, i]) => {
    if (!isPlainObject(m) || typeof m.type !== 'string') return; // the schema reported it
    const at = ['architecture', field, i];
    if (!registry.has('peft-module', m.type)) {
      problems.push({
        path: [...at, 'type'],
        ...(file ? { file } : {}),
        message: `unknown peft-module ${JSON.stringify(m.type)} (registered: ${types.length > 0 ? types.join(', ') : 'none'})`,
        hint: didYouMean(m.type, types),
      });
      return;
    }
    problems.push(...checkModuleOptions(registry, m.type, m.options, [...at, 'options'], file));
  });
  return a;
}

/**
 * The options of one module (or target) of an architecture against its type's per-instance options
 * schema (PeftModuleType.optionsSchema): unknown keys (with a suggestion), types and ranges. The
 * options are validated as a copy: schema defaults are not written into the architecture.
 */
function checkModuleOptions(
  registry: Registry,
  type: string,
  options: unknown,
  path: ConfigPath,
  file: string | undefined,
): Problem[] {
  const value = options === undefined ? {} : options;
  if (!isPlainObject(value)) return []; // the architecture schema reported it
  const validate = registry.moduleOptionsValidator(type);
  if (!validate) return [];
  return validateWith(validate, structuredClone(value), path).map((p) => (file ? { ...p, file } : p));
}

/**
 * Recipe dropout is refused up front (not hours later, when the phase that uses it starts): it
 * would need per-step random masks that a resumed run reproduces, which the trainer does not have.
 */
function checkDropout(raw: Record<string, unknown>): Problem[] {
  const out: Problem[] = [];
  const check = (recipes: unknown, at: ConfigPath) => {
    if (!isPlainObject(recipes)) return;
    for (const phase of ['search', 'retrain']) {
      const r = recipes[phase];
      const d = isPlainObject(r) ? r.dropout : undefined;
      if (typeof d === 'number' && d > 0) {
        out.push({
          path: [...at, phase, 'dropout'],
          message: `dropout ${d} is not supported yet (expected 0): resumed runs could not reproduce its masks`,
          hint: 'remove it, or set it to 0',
        });
      }
    }
  };
  check(raw.recipes, ['recipes']);
  const c = raw.compare;
  if (isPlainObject(c) && Array.isArray(c.strategies)) {
    c.strategies.forEach((st, i) => {
      if (isPlainObject(st)) check(st.recipes, ['compare', 'strategies', i, 'recipes']);
    });
  }
  return out;
}
