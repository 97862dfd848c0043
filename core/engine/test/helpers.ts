/** Paths of the test fixtures (plain JS and YAML, read from the source tree) and small helpers. */
import { expect } from 'chai';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
export const PRESETS = join(FIXTURES, 'presets');
export const PLUGINS = join(FIXTURES, 'plugins');
export const plugin = (name: string) => join(PLUGINS, name);

/** The error `f` throws (or rejects with), failing the test when it does not. */
export async function caught(f: () => unknown): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  expect.fail('expected an error');
}
