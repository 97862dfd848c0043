/**
 * Access to mocha's `describe`/`it`: the globals of the running mocha instance, so that the kit
 * works with whichever mocha the plugin's tests run under (kept out of the exported types, so that
 * users of the kit do not need mocha's type declarations to compile).
 */

/** The mocha interface the suites use. */
export interface MochaInterface {
  describe: Mocha.SuiteFunction;
  it: Mocha.TestFunction;
  before: Mocha.HookFunction;
  after: Mocha.HookFunction;
}

/** mocha's BDD globals; a clear error when a suite is called outside a mocha test file. */
export function mocha(suite: string): MochaInterface {
  const g = globalThis as unknown as Partial<MochaInterface>;
  if (typeof g.describe !== 'function' || typeof g.it !== 'function') {
    throw new Error(
      `${suite}: call it from a mocha test file (describe/it are not defined; run the file with mocha)`,
    );
  }
  return { describe: g.describe, it: g.it!, before: g.before!, after: g.after! };
}
