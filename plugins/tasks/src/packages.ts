/**
 * Locating the data packages. They are ordinary (pinned) dependencies of this plugin, found through
 * Node's resolver so that hoisted and nested installs both work.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { DataError } from '@peftkit/api';

const require = createRequire(import.meta.url);

/** Absolute directory of an installed package. */
export function packageDir(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch (err) {
    throw new DataError(
      `data package '${name}' is not installed (${(err as Error).message}); ` +
        'expected it as a dependency of @peftkit/plugin-tasks: run `npm install`',
    );
  }
}

/** Installed version of a package, for descriptions. */
export function packageVersion(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}
