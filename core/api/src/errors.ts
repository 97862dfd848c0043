/**
 * Errors users see. Each says where the problem is (file, field), what was found and what was
 * expected, so that a bad preset or a bad data file is fixed without reading code.
 */

export class PeftkitError extends Error {
  override name = 'PeftkitError';
}

/** A configuration problem: a preset, an option, a CLI override. */
export class ConfigError extends PeftkitError {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly file?: string,
    readonly path?: string,
    readonly hint?: string,
  ) {
    super(
      [file ? `${file}: ` : '', path ? `${path}: ` : '', message, hint ? `\n  hint: ${hint}` : ''].join(''),
    );
  }
}

/** A problem with input data or model files (named with the line or tensor where it applies). */
export class DataError extends PeftkitError {
  override name = 'DataError';
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(`${file ? `${file}${line !== undefined ? `:${line}` : ''}: ` : ''}${message}`);
  }
}

/** A plugin failed to load, register or run; names the plugin (and the hook when known). */
export class PluginError extends PeftkitError {
  override name = 'PluginError';
  constructor(
    message: string,
    readonly plugin: string,
    readonly hook?: string,
    options?: { cause?: unknown },
  ) {
    super(`plugin ${plugin}${hook ? ` (${hook})` : ''}: ${message}`, options);
  }
}
