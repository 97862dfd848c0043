/**
 * `peftkit plugin new`: a standalone plugin package from the templates in templates/ (shipped with
 * the CLI package): templates/common/ for every kind, templates/<kind>/ for the example of that kind
 * (its source, conformance and value tests, presets, and the "about" paragraph of its README).
 * File names and contents have the placeholders __NAME__ (the contribution name), __CLASS__ (its
 * PascalCase), __PACKAGE__, __KIND__, __SUMMARY__, __COMMAND__ and __ABOUT__ replaced.
 */
import { EXTENSION_KINDS, type ExtensionKind, ConfigError } from '@peftkit/api';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliVersion } from '../version.js';

export const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates', import.meta.url));

/** Versions of the tools a generated package builds and tests with (the repository's own; a test keeps them equal). */
export const TOOL_VERSIONS: Readonly<Record<string, string>> = {
  '@types/mocha': '10.0.10',
  '@types/node': '20.19.43',
  mocha: '12.0.3',
  typescript: '5.9.3',
};

/** Contribution names: lower-case words separated by `-` (the engine's NAME_PATTERN). */
const NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export interface KindTemplate {
  summary: string;
  /** The command the presets are run with. */
  command: 'search' | 'train';
  /** Further arguments of `npm run smoke` (with placeholders; the reporter kind's `--reporter NAME`). */
  smokeArgs?: string;
  /** Further @peftkit packages the example's tests need (besides @peftkit/testing). */
  devDependencies: string[];
  /** Further @peftkit packages the example itself imports (besides @peftkit/api). */
  dependencies?: string[];
}

export interface ScaffoldOptions {
  name: string;
  kind: string;
  /** The package directory (default ./peftkit-plugin-<name>); must not exist or be empty. */
  dir?: string;
  /**
   * A directory of packed @peftkit tarballs (`npm run pack`): depend on them by file path, with
   * every @peftkit package overridden to its tarball, instead of on registry versions.
   */
  from?: string;
  cwd: string;
}

export interface ScaffoldResult {
  dir: string;
  packageName: string;
  files: string[];
}

export function kindTemplate(kind: ExtensionKind): KindTemplate {
  return JSON.parse(readFileSync(join(TEMPLATES_DIR, kind, 'template.json'), 'utf8')) as KindTemplate;
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase());
}

/** The placeholder values for a plugin `name` of `kind`. */
export function placeholders(name: string, kind: ExtensionKind): Record<string, string> {
  const t = kindTemplate(kind);
  return {
    __PACKAGE__: `peftkit-plugin-${name}`,
    __NAME__: name,
    __CLASS__: pascal(name),
    __KIND__: kind,
    __SUMMARY__: t.summary,
    __COMMAND__: t.command,
    __ABOUT__: readFileSync(join(TEMPLATES_DIR, kind, 'about.md'), 'utf8').trim(),
  };
}

export function fill(text: string, values: Record<string, string>): string {
  return text.replace(/__[A-Z]+__/g, (m) => values[m] ?? m);
}

/** Template files of `kind` as [path in the package, template file], common ones first. */
export function templateFiles(kind: ExtensionKind): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (root: string, dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const file = join(dir, entry);
      if (statSync(file).isDirectory()) walk(root, file);
      else if (!(root.endsWith(kind) && ['template.json', 'about.md'].includes(entry)))
        out.push([relative(root, file).replace(/^_gitignore$/, '.gitignore'), file]);
    }
  };
  walk(join(TEMPLATES_DIR, 'common'), join(TEMPLATES_DIR, 'common'));
  walk(join(TEMPLATES_DIR, kind), join(TEMPLATES_DIR, kind));
  return out;
}

/** Tarballs of a `npm run pack` directory by package name. */
function packedTarballs(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.tgz')) continue;
    const m = /^(peftkit-)?(.+)-\d+\.\d+\.\d+.*\.tgz$/.exec(f);
    if (!m) continue;
    const name = m[1] ? `@peftkit/${m[2]}` : m[2]!;
    out.set(name, join(dir, f));
  }
  return out;
}

/** The command `npm run smoke` runs in a generated package (the smoke preset, in seconds). */
export function smokeCommand(name: string, kind: ExtensionKind): string {
  const t = kindTemplate(kind);
  const extra = t.smokeArgs ? ` ${fill(t.smokeArgs, { __NAME__: name })}` : '';
  return `peftkit ${t.command} --preset ./presets/${name}-smoke.yaml${extra}`;
}

/** package.json of the generated plugin. */
export function packageJson(name: string, kind: ExtensionKind, from?: string): Record<string, unknown> {
  const t = kindTemplate(kind);
  const version = cliVersion();
  const tarballs = from ? packedTarballs(from) : undefined;
  const spec = (pkg: string): string => {
    if (!tarballs) return version;
    const file = tarballs.get(pkg);
    if (!file)
      throw new ConfigError(`no tarball of ${pkg} in ${from} (made by npm run pack?)`, undefined, '--from');
    return `file:${file}`;
  };
  const deps = ['@peftkit/api', ...(t.dependencies ?? [])];
  const devDeps = ['@peftkit/testing', 'peftkit', ...t.devDependencies];
  return {
    name: `peftkit-plugin-${name}`,
    version: '0.1.0',
    description: `peftkit plugin: the ${kind} ${name}. ${t.summary}`,
    type: 'module',
    main: './dist/src/index.js',
    types: './dist/src/index.d.ts',
    exports: {
      '.': { types: './dist/src/index.d.ts', default: './dist/src/index.js' },
      './package.json': './package.json',
    },
    files: ['dist/src', 'presets'],
    keywords: ['peftkit-plugin'],
    peftkit: { apiVersion: `^${version}`, module: './dist/src/plugin.js', contributes: { [kind]: [name] } },
    scripts: {
      build: 'tsc -b',
      test: 'mocha',
      smoke: smokeCommand(name, kind),
    },
    dependencies: Object.fromEntries(deps.map((d) => [d, spec(d)])),
    devDependencies: Object.fromEntries([
      ...devDeps.map((d) => [d, spec(d)]),
      ...Object.entries(TOOL_VERSIONS),
    ]),
    // Packages the tarballs depend on by version resolve to their tarballs too.
    ...(tarballs ? { overrides: Object.fromEntries([...tarballs].map(([n, f]) => [n, `file:${f}`])) } : {}),
  };
}

/** Write the package; refuses a directory that exists and is not empty. */
export function scaffoldPlugin(opts: ScaffoldOptions): ScaffoldResult {
  if (!NAME_PATTERN.test(opts.name)) {
    throw new ConfigError(
      `"${opts.name}" is not a contribution name: use lower-case words separated by "-" (like grad-norm)`,
      undefined,
      'NAME',
    );
  }
  if (!(EXTENSION_KINDS as readonly string[]).includes(opts.kind)) {
    throw new ConfigError(
      `unknown extension kind "${opts.kind}"; kinds: ${EXTENSION_KINDS.join(', ')}`,
      undefined,
      '--kind',
    );
  }
  const kind = opts.kind as ExtensionKind;
  const dir = resolve(opts.cwd, opts.dir ?? `peftkit-plugin-${opts.name}`);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new ConfigError(`${dir} exists and is not empty; choose another --dir`, undefined, '--dir');
  }
  const from = opts.from ? resolve(opts.cwd, opts.from) : undefined;
  const values = placeholders(opts.name, kind);
  const files: string[] = [];
  const write = (path: string, text: string) => {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    files.push(path);
  };
  write('package.json', `${JSON.stringify(packageJson(opts.name, kind, from), null, 2)}\n`);
  for (const [path, template] of templateFiles(kind))
    write(fill(path, values), fill(readFileSync(template, 'utf8'), values));
  return { dir, packageName: values.__PACKAGE__!, files };
}
