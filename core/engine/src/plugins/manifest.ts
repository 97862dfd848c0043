/** A plugin package's package.json and its `peftkit` manifest, checked before anything is imported. */
import { API_VERSION, EXTENSION_KINDS, PluginError, type PluginManifest } from '@peftkit/api';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { didYouMean, showValue } from '../util/suggest.js';

export interface PluginPackage {
  name: string;
  version: string;
  description?: string;
  dir: string;
  manifest: PluginManifest;
}

/** Contribution names: lower-case words separated by `-` (`grad-norm`, `bipeft`, `use-lite`). */
export const NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

const MANIFEST_KEYS = ['apiVersion', 'module', 'contributes'];

/**
 * Read and check `dir/package.json`. `label` names the plugin in errors until its package name is
 * known (the reference as written in a preset, or the directory).
 */
export function readPluginPackage(dir: string, label: string): PluginPackage {
  let text: string;
  try {
    text = readFileSync(join(dir, 'package.json'), 'utf8');
  } catch {
    throw new PluginError(
      `no package.json in ${dir} (a plugin is a package with a "peftkit" manifest)`,
      label,
      'manifest',
    );
  }
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new PluginError(
      `${join(dir, 'package.json')} is not valid JSON: ${(e as Error).message}`,
      label,
      'manifest',
    );
  }
  if (typeof pkg.name !== 'string' || pkg.name === '') {
    throw new PluginError(`${join(dir, 'package.json')} has no "name"`, label, 'manifest');
  }
  const name = pkg.name;
  const fail = (message: string): never => {
    throw new PluginError(message, name, 'manifest');
  };
  const m = pkg.peftkit;
  if (m === undefined) {
    fail(
      'package.json has no "peftkit" manifest; a plugin declares ' +
        '"peftkit": {"apiVersion": "^0.1.0", "module": "./dist/src/plugin.js", "contributes": {"<kind>": ["<name>"]}}',
    );
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m))
    fail(`package.json "peftkit" must be an object, got ${showValue(m)}`);
  const man = m as Record<string, unknown>;
  for (const k of Object.keys(man)) {
    if (!MANIFEST_KEYS.includes(k)) {
      const hint = didYouMean(k, MANIFEST_KEYS);
      fail(
        `package.json "peftkit" has unknown key "${k}" (expected ${MANIFEST_KEYS.join(', ')})${hint ? `; ${hint}` : ''}`,
      );
    }
  }
  if (typeof man.apiVersion !== 'string' || semver.validRange(man.apiVersion) === null) {
    fail(
      `peftkit.apiVersion must be a semver range of @peftkit/api versions (e.g. "^0.1.0"), got ${showValue(man.apiVersion)}`,
    );
  }
  if (!semver.satisfies(API_VERSION, man.apiVersion as string)) {
    fail(
      `requires @peftkit/api ${man.apiVersion as string}, but this peftkit provides API ${API_VERSION} ` +
        '(update the plugin, or use a peftkit release it supports)',
    );
  }
  if (typeof man.module !== 'string' || man.module === '') {
    fail(
      `peftkit.module must be the path of the plugin's module (e.g. "./dist/src/plugin.js"), got ${showValue(man.module)}`,
    );
  }
  const c = man.contributes;
  if (c === null || typeof c !== 'object' || Array.isArray(c)) {
    fail(`peftkit.contributes must map extension kinds to lists of names, got ${showValue(c)}`);
  }
  const contributes: Record<string, string[]> = {};
  for (const [kind, names] of Object.entries(c as Record<string, unknown>)) {
    if (!(EXTENSION_KINDS as readonly string[]).includes(kind)) {
      const hint = didYouMean(kind, EXTENSION_KINDS);
      fail(
        `peftkit.contributes has unknown extension kind "${kind}"${hint ? ` (${hint})` : ''}; kinds: ${EXTENSION_KINDS.join(', ')}`,
      );
    }
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
      fail(`peftkit.contributes["${kind}"] must be a list of names, got ${showValue(names)}`);
    }
    for (const n of names as string[]) {
      if (!NAME_PATTERN.test(n))
        fail(`peftkit.contributes["${kind}"]: name "${n}" is not lower-case kebab-case (like "grad-norm")`);
    }
    contributes[kind] = names as string[];
  }
  return {
    name,
    version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
    description: typeof pkg.description === 'string' ? pkg.description : undefined,
    dir,
    manifest: { apiVersion: man.apiVersion as string, module: man.module as string, contributes },
  };
}
