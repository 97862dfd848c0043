/** Many configuration problems reported at once, each a ConfigError naming file, path and value. */
import { ConfigError, PeftkitError, type PluginError } from '@peftkit/api';
import type { Problem } from '../schema/problems.js';
import { formatOrigin, formatPath, type Origins } from './origins.js';

export class ConfigErrorList extends ConfigError {
  override name = 'ConfigError';
  constructor(readonly errors: readonly ConfigError[]) {
    super(
      errors.length === 1
        ? errors[0]!.message
        : `${errors.length} problems in the configuration:\n${errors.map((e) => `  - ${e.message.replace(/\n/g, '\n    ')}`).join('\n')}`,
    );
  }
}

/** Several plugins failed to load or register. */
export class PluginErrorList extends PeftkitError {
  override name = 'PluginError';
  constructor(readonly errors: readonly PluginError[]) {
    super(
      errors.length === 1
        ? errors[0]!.message
        : `${errors.length} plugin problems:\n${errors.map((e) => `  - ${e.message.replace(/\n/g, '\n    ')}`).join('\n')}`,
    );
  }
}

/**
 * ConfigErrors for problems, each naming where its value was written (`origins`), else `where`
 * (a file name, `command line`, or a component such as `search-strategy "bipeft"`).
 */
export function problemsToErrors(
  problems: readonly Problem[],
  origins?: Origins,
  where?: string,
): ConfigError[] {
  const located = problems.map((p, i) => {
    const o = p.file === undefined ? origins?.get(p.path) : undefined;
    return {
      p,
      i,
      file: p.file ?? (o ? formatOrigin(o) : where),
      sortFile: p.file ?? o?.file ?? '',
      line: o?.line ?? 0,
    };
  });
  // In file order, then line order, so the list reads like the preset.
  located.sort((a, b) =>
    a.sortFile < b.sortFile ? -1 : a.sortFile > b.sortFile ? 1 : a.line - b.line || a.i - b.i,
  );
  return located.map(({ p, file }) => new ConfigError(p.message, file, formatPath(p.path), p.hint));
}

export function throwProblems(problems: readonly Problem[], origins?: Origins, where?: string): void {
  if (problems.length > 0) throw new ConfigErrorList(problemsToErrors(problems, origins, where));
}
