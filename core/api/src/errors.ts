/**
 * Errors users see. Each says where the problem is (file, field), what was found and what was
 * expected, so that a bad preset or a bad data file is fixed without reading code.
 */

/** Marks the error classes of @peftkit/api, shared by every copy of it (a global symbol). */
const ERROR_CLASS: unique symbol = Symbol.for('peftkit.errorClass') as never;

export class PeftkitError extends Error {
  override name = 'PeftkitError';
  static readonly [ERROR_CLASS]: string = 'PeftkitError';

  /**
   * `instanceof` also recognises the errors of another copy of @peftkit/api: a plugin installed
   * with its own node_modules throws ConfigErrors of its copy, and the engine must still treat
   * them as ConfigErrors (report the option's place rather than a bug). Classes of this file match
   * by their ERROR_CLASS name; other subclasses (declaring none of their own) by identity.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    const id = Object.hasOwn(this, ERROR_CLASS) ? (this as typeof PeftkitError)[ERROR_CLASS] : undefined;
    for (let p = value !== null && typeof value === 'object' ? Object.getPrototypeOf(value) : null; p;) {
      const c = (p as { constructor?: unknown }).constructor as Record<symbol, unknown> | undefined;
      if ((c as unknown) === this) return true;
      if (id !== undefined && c && Object.hasOwn(c, ERROR_CLASS) && c[ERROR_CLASS] === id) return true;
      p = Object.getPrototypeOf(p);
    }
    return false;
  }
}

/** A configuration problem: a preset, an option, a CLI override. */
export class ConfigError extends PeftkitError {
  override name = 'ConfigError';
  static override readonly [ERROR_CLASS]: string = 'ConfigError';
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
  static override readonly [ERROR_CLASS]: string = 'DataError';
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
  static override readonly [ERROR_CLASS]: string = 'PluginError';
  constructor(
    message: string,
    readonly plugin: string,
    readonly hook?: string,
    options?: { cause?: unknown },
  ) {
    super(`plugin ${plugin}${hook ? ` (${hook})` : ''}: ${message}`, options);
  }
}
