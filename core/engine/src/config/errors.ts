/** Many configuration problems reported at once, each a ConfigError naming file, path and value. */
import { ConfigError, PeftkitError, type PluginError } from '@peftkit/api';
import type { Problem } from '../schema/problems.js';
import { formatOrigin, formatPath, type Origins } from './origins.js';

/** Problems listed in one error; the rest are counted ("and 4,980 more"). */
export const MAX_LISTED_PROBLEMS = 20;

export class ConfigErrorList extends ConfigError {
  override name = 'ConfigError';
  /** `omitted`: further problems, counted but not listed (see MAX_TRANSLATED_ERRORS). */
  constructor(
    readonly errors: readonly ConfigError[],
    readonly omitted = 0,
  ) {
    const listed = errors.slice(0, MAX_LISTED_PROBLEMS);
    const more = errors.length - listed.length + omitted;
    const total = errors.length + omitted;
    super(
      total === 1
        ? errors[0]!.message
        : `${total.toLocaleString('en-US')} problems in the configuration:\n${listed.map((e) => `  - ${e.message.replace(/\n/g, '\n    ')}`).join('\n')}` +
            (more > 0 ? `\n  and ${more.toLocaleString('en-US')} more (fix these first)` : ''),
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
  if (problems.length === 0) return;
  const listed = problems.filter((p) => p.omitted === undefined);
  const omitted = problems.reduce((a, p) => a + (p.omitted ?? 0), 0);
  // Only the listed problems become errors: building 50,000 of them would cost more than validating.
  const errors = problemsToErrors(listed, origins, where);
  throw new ConfigErrorList(
    errors.slice(0, MAX_LISTED_PROBLEMS),
    errors.length - Math.min(errors.length, MAX_LISTED_PROBLEMS) + omitted,
  );
}
