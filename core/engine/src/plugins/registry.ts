/**
 * The registry of contributions: which plugin contributed what, validated at registration, and the
 * one place components are created (options validated against their schema, defaults applied,
 * exceptions attributed to the plugin).
 */
import {
  ConfigError,
  DataError,
  EXTENSION_KINDS,
  PeftkitError,
  PluginError,
  type ComponentRef,
  type Contribution,
  type CreateContext,
  type ExtensionKind,
  type ExtensionTypes,
  type JsonSchema,
  type Logger,
  type PeftModuleType,
  type PluginManifest,
} from '@peftkit/api';
import { Container } from 'inversify';
import { throwProblems } from '../config/errors.js';
import {
  formatOrigin,
  formatPath,
  isPlainObject,
  type ConfigPath,
  type Origins,
  type PathSegment,
} from '../config/origins.js';
import { relocateOptionsError } from '../config/relocate.js';
import {
  COMPONENT_KEYWORD,
  componentRefSchema,
  createAjv,
  validateWith,
  type Problem,
  type Validator,
} from '../schema/problems.js';
import { didYouMean } from '../util/suggest.js';
import { NAME_PATTERN } from './manifest.js';
import { attribute, guardPluginCalls } from './guard.js';

export interface PluginInfo {
  /** Package name (`@peftkit/plugin-bipeft`). */
  name: string;
  version: string;
  description?: string;
  /** Package directory. */
  dir?: string;
  /** `engine`: contributed by the engine itself; `builtin`: the repository's plugins; `config`: a preset's `plugins:`. */
  origin: 'engine' | 'builtin' | 'config';
  manifest: PluginManifest;
}

export interface RegisteredContribution<K extends ExtensionKind = ExtensionKind> {
  readonly kind: K;
  readonly name: string;
  readonly description: string;
  /** The options schema as validated (component references completed). */
  readonly optionsSchema: JsonSchema;
  readonly plugin: PluginInfo;
  readonly contribution: Contribution<K>;
}

interface Entry extends RegisteredContribution {
  readonly validate: Validator;
}

/**
 * Where a component reference was written, so that errors name it: its path in the configuration
 * and, through `origins`, the preset file and line of the offending value.
 *
 *   registry.create('backbone', config.backbone, ctx, { path: ['backbone'], origins })
 *   registry.create('task', cell.task, ctx, { path: ['compare', 'tasks', 2], origins })
 */
export interface RefLocation {
  /**
   * Path of the reference (`['strategy']`, `['compare', 'tasks', 2]`); invalid options, and
   * ConfigErrors that the component's create throws about an option, are reported under
   * `<path>.options` (`backbone.options.maxLength`).
   */
  path?: ConfigPath;
  /** Origins of the configuration the reference is part of (LoadedConfig.origins). */
  origins?: Origins;
  /**
   * What to name as the origin where `origins` records none (a file, `command line`); default:
   * the component itself (`backbone "hf"`).
   */
  where?: string;
}

const SILENT: Logger = { info() {}, warn() {}, debug() {} };

const KIND_ORDER = new Map(EXTENSION_KINDS.map((k, i) => [k, i]));

export class Registry {
  /**
   * The one inversify container: engine services live in it; each plugin's ContainerModule is
   * loaded into a child of it, so that plugins can resolve engine services and the engine knows
   * which plugin bound what.
   */
  readonly container: Container;
  private readonly pluginList: PluginInfo[] = [];
  private readonly entries = new Map<string, Entry>();
  private readonly ajv = createAjv();
  /** Errors raised by the engine inside a plugin's create (nested resolve): passed through unwrapped. */
  private readonly passThrough = new WeakSet<object>();
  /** Per-instance options validators of PEFT module types (null: the type declares none). */
  private readonly moduleValidators = new Map<string, Validator | null>();

  constructor(container = new Container()) {
    this.container = container;
  }

  plugins(): readonly PluginInfo[] {
    return this.pluginList;
  }

  /** Registered contributions, of one kind or all, ordered by kind then name. */
  list(kind?: ExtensionKind): RegisteredContribution[] {
    return [...this.entries.values()]
      .filter((e) => kind === undefined || e.kind === kind)
      .sort((a, b) => KIND_ORDER.get(a.kind)! - KIND_ORDER.get(b.kind)! || (a.name < b.name ? -1 : 1));
  }

  names(kind: ExtensionKind): string[] {
    return this.list(kind).map((e) => e.name);
  }

  has(kind: ExtensionKind, name: string): boolean {
    return this.entries.has(key(kind, name));
  }

  /** The contribution `name` of `kind`; unknown names are a ConfigError listing what exists. */
  get<K extends ExtensionKind>(kind: K, name: string): RegisteredContribution<K> {
    const e = this.entries.get(key(kind, name));
    if (!e) {
      const p = this.unknownName(kind, name, []);
      throw new ConfigError(p.message, undefined, undefined, p.hint);
    }
    return e as unknown as RegisteredContribution<K>;
  }

  private unknownName(kind: ExtensionKind, name: string, path: ConfigPath): Problem {
    const known = this.names(kind);
    return {
      path,
      message:
        `unknown ${kind} ${JSON.stringify(name)} ` +
        (known.length > 0
          ? `(registered: ${known.join(', ')})`
          : '(no plugin registers any; see `peftkit plugins list`)'),
      hint: didYouMean(name, known),
    };
  }

  /**
   * Register a plugin's contributions, all or nothing. Returns the problems (empty on success):
   * malformed contributions, unknown kinds, bad names, contributions not declared in the manifest
   * or declared and not bound, duplicates within the plugin or with another plugin, invalid
   * option schemas.
   */
  register(plugin: PluginInfo, bound: readonly unknown[]): PluginError[] {
    const errors: PluginError[] = [];
    const err = (message: string) => errors.push(new PluginError(message, plugin.name, 'register'));
    if (this.pluginList.some((p) => p.name === plugin.name)) {
      const other = this.pluginList.find((p) => p.name === plugin.name)!;
      err(
        `is already loaded${other.dir ? ` from ${other.dir}` : ''}${plugin.dir ? `; not loading it again from ${plugin.dir}` : ''}`,
      );
      return errors;
    }
    const declared = new Set<string>();
    for (const [kind, names] of Object.entries(plugin.manifest.contributes)) {
      for (const n of names ?? []) declared.add(key(kind as ExtensionKind, n));
    }
    const accepted: Entry[] = [];
    const seen = new Set<string>();
    bound.forEach((raw, i) => {
      const c = raw as Partial<Contribution> & Record<string, unknown>;
      const missing = contributionShapeProblem(c);
      if (missing) {
        err(`binding #${i + 1} under CONTRIBUTION is not a Contribution: ${missing}`);
        return;
      }
      const label = `${c.kind} "${c.name}"`;
      if (!(EXTENSION_KINDS as readonly string[]).includes(c.kind!)) {
        const hint = didYouMean(c.kind!, EXTENSION_KINDS);
        err(
          `contribution "${c.name}" has unknown extension kind "${c.kind}"${hint ? ` (${hint})` : ''}; kinds: ${EXTENSION_KINDS.join(', ')}`,
        );
        return;
      }
      if (!NAME_PATTERN.test(c.name!)) {
        err(`${label}: name is not lower-case kebab-case (like "grad-norm")`);
        return;
      }
      const k = key(c.kind!, c.name!);
      if (!declared.has(k)) {
        err(
          `binds ${label}, which package.json does not declare (add "${c.name}" to peftkit.contributes["${c.kind}"])`,
        );
      }
      if (seen.has(k)) {
        err(`binds ${label} twice`);
        return;
      }
      seen.add(k);
      const existing = this.entries.get(k);
      if (existing) {
        err(
          `${label} is already registered by plugin ${existing.plugin.name}; names must be unique per kind across plugins`,
        );
        return;
      }
      let schema: JsonSchema;
      let validate: Validator;
      try {
        schema = completeSchema(structuredClone(c.optionsSchema!) as JsonSchema, (m) =>
          err(`${label}: ${m}`),
        );
        validate = this.ajv.compile(schema);
      } catch (e) {
        err(`${label}: optionsSchema is not a valid JSON Schema: ${(e as Error).message}`);
        return;
      }
      accepted.push({
        kind: c.kind!,
        name: c.name!,
        description: c.description!,
        optionsSchema: schema,
        plugin,
        contribution: c as Contribution,
        validate,
      });
    });
    for (const k of declared) {
      if (!seen.has(k)) {
        const [kind, name] = JSON.parse(k) as [string, string];
        err(
          `package.json declares ${kind} "${name}" under peftkit.contributes, but the module does not bind it`,
        );
      }
    }
    if (errors.length > 0) return errors;
    this.pluginList.push(plugin);
    for (const e of accepted) this.entries.set(key(e.kind, e.name), e);
    return [];
  }

  /**
   * Validate a component reference written at `path` (`strategy`): the name must be registered and
   * the options must satisfy its schema; components named inside the options (schema nodes with
   * `x-peftkit-component`) are checked the same way. Returns the reference with schema defaults
   * applied, and the problems found.
   */
  checkComponent(
    kind: ExtensionKind,
    ref: unknown,
    path: ConfigPath,
  ): { ref: ComponentRef; problems: Problem[] } {
    if (!isPlainObject(ref) || typeof ref.name !== 'string') {
      return { ref: ref as ComponentRef, problems: [] }; // the shape is the caller's schema's business
    }
    const entry = this.entries.get(key(kind, ref.name));
    if (!entry)
      return {
        ref: ref as unknown as ComponentRef,
        problems: [this.unknownName(kind, ref.name, [...path, 'name'])],
      };
    const options = ref.options === undefined ? {} : structuredClone(ref.options);
    if (!isPlainObject(options)) return { ref: ref as unknown as ComponentRef, problems: [] };
    const optionsPath = [...path, 'options'];
    const problems = validateWith(entry.validate, options, optionsPath);
    for (const nested of findComponentRefs(entry.optionsSchema, entry.optionsSchema, options, [])) {
      const r = this.checkComponent(nested.kind, nested.value, [...optionsPath, ...nested.path]);
      setAt(options, nested.path, r.ref);
      problems.push(...r.problems);
    }
    return { ref: { name: ref.name, options }, problems };
  }

  /**
   * The validator of the per-instance options of PEFT module type `name` (the `optionsSchema` of
   * the PeftModuleType its contribution creates), for checking an architecture's modules before
   * anything runs. Undefined when the type is not registered, declares no schema, or cannot be
   * created synchronously here (its create is async or throws: the run creates it and reports
   * that); such types check their options when a program is built. A schema that does not compile
   * is a PluginError.
   */
  moduleOptionsValidator(name: string): Validator | undefined {
    const cached = this.moduleValidators.get(name);
    if (cached !== undefined) return cached ?? undefined;
    const entry = this.entries.get(key('peft-module', name));
    if (!entry) return undefined;
    const checked = this.checkComponent('peft-module', { name }, []);
    if (checked.problems.length > 0) return undefined;
    let type: unknown;
    try {
      type = entry.contribution.create(
        checked.ref.options ?? {},
        this.context({ baseDir: process.cwd(), log: SILENT }),
      );
    } catch {
      return undefined;
    }
    if (isPlainObject(type) && typeof type.then === 'function') {
      (type as unknown as Promise<unknown>).then(undefined, () => {}); // created (and reported) by the run
      return undefined;
    }
    const schema = isPlainObject(type) ? (type as Partial<PeftModuleType>).optionsSchema : undefined;
    if (schema === undefined) {
      this.moduleValidators.set(name, null);
      return undefined;
    }
    const hook = `peft-module "${name}" options schema`;
    const problems: string[] = [];
    let validate: Validator;
    try {
      validate = this.ajv.compile(completeSchema(structuredClone(schema), (m) => problems.push(m)));
    } catch (e) {
      problems.push(`not a valid JSON Schema: ${(e as Error).message}`);
    }
    if (problems.length > 0) throw new PluginError(problems.join('; '), entry.plugin.name, hook);
    this.moduleValidators.set(name, validate!);
    return validate!;
  }

  /**
   * Create a component: validate the reference (throws a ConfigError listing every problem), then
   * call the contribution's `create`. What `create` throws:
   * - a ConfigError about an option (no file of its own) is re-thrown under `<path>.options`
   *   (`backbone.options.maxLength`), naming the file and line of the reference when
   *   `location.origins` records them;
   * - other ConfigErrors, DataErrors and PluginErrors name their own place and pass unchanged;
   * - any other PeftkitError becomes a PluginError naming the plugin and `create <kind> <name>`;
   * - anything else (TypeError, ...) is a bug: an UnexpectedPluginError naming the plugin, with
   *   the original as `cause`.
   * The component is returned guarded (guard.ts): what its methods throw names the plugin too.
   */
  async create<K extends ExtensionKind>(
    kind: K,
    ref: ComponentRef,
    ctx: CreateContext,
    location: RefLocation = {},
  ): Promise<ExtensionTypes[K]> {
    const path = location.path ?? [];
    const where = location.where ?? `${kind} ${JSON.stringify(ref?.name)}`;
    const checked = this.checkComponent(kind, ref, path);
    if (checked.problems.length > 0) {
      throwProblems(checked.problems, location.origins, where);
    }
    if (!isPlainObject(ref) || typeof ref.name !== 'string') {
      throw new ConfigError(
        `expected {name, options}, got ${JSON.stringify(ref)}`,
        location.where,
        undefined,
      );
    }
    const entry = this.entries.get(key(kind, ref.name))!;
    const hook = `create ${kind} ${ref.name}`;
    let value: unknown;
    try {
      value = await entry.contribution.create(checked.ref.options ?? {}, ctx);
    } catch (e) {
      if (e !== null && typeof e === 'object' && this.passThrough.has(e)) throw e;
      throw createFailure(e, entry.plugin.name, hook, {
        path,
        where,
        ...(location.origins ? { origins: location.origins } : {}),
        options: checked.ref.options,
      });
    }
    if (value === null || typeof value !== 'object') {
      throw new PluginError(`create returned ${String(value)} instead of a ${kind}`, entry.plugin.name, hook);
    }
    return guardPluginCalls(value, entry.plugin.name, `${kind} ${ref.name}`) as ExtensionTypes[K];
  }

  /** A CreateContext whose `resolve` creates collaborators through this registry. */
  context(opts: { baseDir: string; log: Logger }): CreateContext {
    const ctx: CreateContext = {
      baseDir: opts.baseDir,
      log: opts.log,
      resolve: async (kind, ref) => {
        try {
          return await this.create(kind, ref, ctx);
        } catch (e) {
          if (e !== null && typeof e === 'object') this.passThrough.add(e);
          throw e;
        }
      },
    };
    return ctx;
  }
}

/** What `create` throws for `e`, thrown by the contribution's create (see Registry.create). */
function createFailure(
  e: unknown,
  plugin: string,
  hook: string,
  at: { path: ConfigPath; where: string; origins?: Origins; options: unknown },
): Error {
  if (e instanceof ConfigError) return relocateOptionsError(e, at);
  if (e instanceof PeftkitError && !(e instanceof DataError || e instanceof PluginError)) {
    const o = at.path.length > 0 ? at.origins?.get(at.path) : undefined;
    const place = at.path.length > 0 ? ` (${o ? `${formatOrigin(o)}: ` : ''}${formatPath(at.path)})` : '';
    return new PluginError(`${e.message}${place}`, plugin, hook, { cause: e });
  }
  return attribute(e, plugin, hook);
}

function key(kind: ExtensionKind, name: string): string {
  return JSON.stringify([kind, name]);
}

function contributionShapeProblem(c: Record<string, unknown> | null | undefined): string | undefined {
  if (c === null || typeof c !== 'object') return `got ${typeof c}`;
  const missing: string[] = [];
  if (typeof c.kind !== 'string') missing.push('kind (string)');
  if (typeof c.name !== 'string') missing.push('name (string)');
  if (typeof c.description !== 'string' || c.description === '')
    missing.push('description (non-empty string)');
  if (!isPlainObject(c.optionsSchema)) missing.push('optionsSchema (JSON Schema object)');
  if (typeof c.create !== 'function') missing.push('create (function)');
  return missing.length > 0
    ? `${typeof c.name === 'string' ? `"${c.name}" ` : ''}lacks ${missing.join(', ')}`
    : undefined;
}

/**
 * Complete schema nodes marked with `x-peftkit-component` to the `{name, options}` shape (keeping
 * what the plugin wrote) and check that the kind they name exists.
 */
function completeSchema(schema: JsonSchema, report: (m: string) => void): JsonSchema {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isPlainObject(node)) return;
    const kind = node[COMPONENT_KEYWORD];
    if (kind !== undefined) {
      if (typeof kind !== 'string' || !(EXTENSION_KINDS as readonly string[]).includes(kind)) {
        const hint = typeof kind === 'string' ? didYouMean(kind, EXTENSION_KINDS) : undefined;
        report(
          `${COMPONENT_KEYWORD} names unknown extension kind ${JSON.stringify(kind)}${hint ? ` (${hint})` : ''}`,
        );
        return;
      }
      const base = componentRefSchema(kind);
      for (const [k, v] of Object.entries(base)) if (!(k in node)) node[k] = v;
      return;
    }
    for (const v of Object.values(node)) visit(v);
  };
  visit(schema);
  return schema;
}

/** Component references inside `data`, found by walking it along `schema`. */
function* findComponentRefs(
  schema: unknown,
  root: JsonSchema,
  data: unknown,
  path: PathSegment[],
): Generator<{ kind: ExtensionKind; path: PathSegment[]; value: unknown }> {
  if (!isPlainObject(schema)) return;
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith('#/')) {
    const target = schema.$ref
      .slice(2)
      .split('/')
      .reduce<unknown>(
        (s, seg) => (isPlainObject(s) ? s[seg.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined),
        root,
      );
    yield* findComponentRefs(target, root, data, path);
  }
  if (typeof schema[COMPONENT_KEYWORD] === 'string') {
    if (isPlainObject(data) && typeof data.name === 'string') {
      yield { kind: schema[COMPONENT_KEYWORD] as ExtensionKind, path, value: data };
    }
    return;
  }
  if (Array.isArray(schema.allOf))
    for (const s of schema.allOf) yield* findComponentRefs(s, root, data, path);
  if (isPlainObject(data)) {
    const props = isPlainObject(schema.properties) ? schema.properties : {};
    for (const [k, v] of Object.entries(data)) {
      const sub = k in props ? props[k] : schema.additionalProperties;
      yield* findComponentRefs(sub, root, v, [...path, k]);
    }
  } else if (Array.isArray(data)) {
    const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
    for (let i = 0; i < data.length; i++) {
      yield* findComponentRefs(i < prefix.length ? prefix[i] : schema.items, root, data[i], [...path, i]);
    }
  }
}

function setAt(root: Record<string, unknown>, path: readonly PathSegment[], value: unknown): void {
  if (path.length === 0) return;
  let cur: unknown = root;
  for (const seg of path.slice(0, -1)) cur = (cur as Record<string | number, unknown>)[seg];
  (cur as Record<string | number, unknown>)[path[path.length - 1]!] = value;
}
