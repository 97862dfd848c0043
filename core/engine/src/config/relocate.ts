/**
 * Placing a ConfigError a component threw about its own options at the place those options were
 * written: `maxLength` thrown by the `hf` backbone becomes `backbone.options.maxLength`, named with
 * the preset file and line of that value.
 */
import { ConfigError } from '@peftkit/api';
import { ConfigErrorList } from './errors.js';
import {
  formatOrigin,
  formatPath,
  isPlainObject,
  type ConfigPath,
  type Origins,
  type PathSegment,
} from './origins.js';

/** One segment of a path as formatPath writes it: `.name` (no dot first), `[3]`, `["odd key"]`. */
const SEGMENT = /(?:^|\.)([A-Za-z_$][A-Za-z0-9_$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;

/** The segments of a path written by formatPath (`layers[2].dropout`); undefined if it is not one. */
export function parsePath(text: string): PathSegment[] | undefined {
  if (text === '') return undefined;
  const out: PathSegment[] = [];
  let at = 0;
  while (at < text.length) {
    SEGMENT.lastIndex = at;
    const m = SEGMENT.exec(text);
    if (!m) return undefined;
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3]!) as string);
    at = SEGMENT.lastIndex;
  }
  return out;
}

/** What a ConfigError says without the `file: path: ` it was given and its hint. */
export function bareMessage(e: ConfigError): string {
  let m = e.message;
  const prefix = `${e.file ? `${e.file}: ` : ''}${e.path ? `${e.path}: ` : ''}`;
  if (m.startsWith(prefix)) m = m.slice(prefix.length);
  const suffix = e.hint ? `\n  hint: ${e.hint}` : '';
  if (suffix && m.endsWith(suffix)) m = m.slice(0, -suffix.length);
  return m;
}

export interface OptionsLocation {
  /** Path of the component reference (`backbone`, `compare.tasks[2]`); may be empty. */
  path: ConfigPath;
  /** Origins of the configuration, for the file and line of the offending value. */
  origins?: Origins;
  /** The origin to name when `origins` has none for the value (a file, `backbone "hf"`). */
  where: string;
  /** The options the component was created with (to tell an `options.` prefix from an option). */
  options?: unknown;
}

/**
 * A ConfigError thrown by a component's create, placed under `<path>.options`. Errors naming a file
 * of their own (a checkpoint's config.json) are about that file and are returned unchanged.
 */
export function relocateOptionsError(e: ConfigError, at: OptionsLocation): ConfigError {
  if (e instanceof ConfigErrorList) {
    const errors = e.errors.map((x) => relocateOptionsError(x, at));
    return errors.every((x, i) => x === e.errors[i]) ? e : withCause(new ConfigErrorList(errors), e);
  }
  if (e.file !== undefined && e.file !== '') return e;
  const base: PathSegment[] = [...at.path, 'options'];
  let message = bareMessage(e);
  let full = base;
  if (e.path) {
    let segs = parsePath(e.path);
    if (segs === undefined) {
      message = `${e.path}: ${message}`; // a free-form place (`training-backend x: options.y`)
    } else {
      // `options.maxLength` written by the plugin itself, unless it has an option named `options`.
      if (segs[0] === 'options' && segs.length > 1 && !(isPlainObject(at.options) && 'options' in at.options))
        segs = segs.slice(1);
      full = [...base, ...segs];
    }
  }
  const o = at.path.length > 0 ? at.origins?.get(full) : undefined;
  return withCause(new ConfigError(message, o ? formatOrigin(o) : at.where, formatPath(full), e.hint), e);
}

function withCause<E extends Error>(err: E, cause: unknown): E {
  Object.defineProperty(err, 'cause', {
    value: cause,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return err;
}
