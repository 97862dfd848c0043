/**
 * Every call into a component a plugin created (a strategy's ask/tell/outcome, an estimator's
 * observe, a scheduler's decide, a reporter's onEvent, a module type's apply, ...) goes through a
 * guard, so that what it throws names the plugin and the hook (`plugin @peftkit/bipeft
 * (search-strategy bipeft: tell): ...`) instead of surfacing as an anonymous error.
 *
 * The guard is a Proxy whose methods call the component's own method with the component itself as
 * `this` (so private fields keep working); properties that are not functions pass unchanged.
 */
import { ConfigError, DataError, PeftkitError, PluginError } from '@peftkit/api';

/**
 * An error of a plugin's code that is not one of the project's errors (a TypeError, a plain Error):
 * a bug rather than a problem users can fix. It is a PluginError naming the plugin and the hook;
 * the CLI adds that `--debug` shows its stack, and `cause` is the original error.
 */
export class UnexpectedPluginError extends PluginError {
  override name = 'UnexpectedPluginError';
  constructor(message: string, plugin: string, hook: string, options?: { cause?: unknown }) {
    super(message, plugin, hook, options);
  }
}

/** What a plugin's hook threw, as an error naming the plugin and the hook. */
export function attribute(e: unknown, plugin: string, hook: string): Error {
  // Problems with the user's input, and errors that already name a plugin, name their own place.
  if (e instanceof ConfigError || e instanceof DataError || e instanceof PluginError) return e;
  if (e instanceof PeftkitError) return new PluginError(e.message, plugin, hook, { cause: e });
  return new UnexpectedPluginError(e instanceof Error ? e.message : String(e), plugin, hook, { cause: e });
}

const GUARDED = Symbol('peftkit.guarded');

/** `value` with each method call attributed to `plugin` and `what` (`search-strategy bipeft`). */
export function guardPluginCalls<T extends object>(value: T, plugin: string, what: string): T {
  if ((value as Record<symbol, unknown>)[GUARDED]) return value;
  const methods = new Map<PropertyKey, { of: unknown; wrapped: unknown }>();
  return new Proxy(value, {
    get(target, prop) {
      if (prop === GUARDED) return true;
      const v = Reflect.get(target, prop, target) as unknown;
      // `then` stays as it is: a guarded object must not look like a promise it is not.
      if (typeof v !== 'function' || prop === 'then' || prop === 'constructor') return v;
      let wrapped = methods.get(prop)?.of === v ? methods.get(prop)!.wrapped : undefined;
      if (!wrapped) {
        const hook = `${what}: ${String(prop)}`;
        wrapped = function (this: unknown, ...args: unknown[]) {
          let out: unknown;
          try {
            out = (v as (...a: unknown[]) => unknown).apply(target, args);
          } catch (e) {
            throw attribute(e, plugin, hook);
          }
          if (out instanceof Promise)
            return out.catch((e: unknown) => {
              throw attribute(e, plugin, hook);
            });
          return out;
        };
        methods.set(prop, { of: v, wrapped });
      }
      return wrapped;
    },
  });
}
