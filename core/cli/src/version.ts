import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The version of the peftkit CLI package. */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Where the documentation is: docs/ inside the installed package (`npm run pack` copies the
 * repository's docs/ there), else the checkout's docs/ next to core/.
 */
export function docsDir(): string {
  const installed = fileURLToPath(new URL('../../docs', import.meta.url));
  return existsSync(installed) ? installed : fileURLToPath(new URL('../../../../docs', import.meta.url));
}
