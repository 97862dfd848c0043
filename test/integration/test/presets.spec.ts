/**
 * Every preset shipped in presets/ loads, merges its `extends` chain and validates against the
 * schemas of the plugins it names (with the built-in plugins), as `peftkit presets show` does. A
 * preset broken by a renamed option or plugin fails here, not in a user's first run.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@peftkit/engine';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const names = readdirSync(join(ROOT, 'presets'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

describe('shipped presets', function () {
  this.timeout(60_000);
  it('there are presets to check (quickstart among them)', () => {
    expect(names).to.include('quickstart');
  });
  for (const name of names) {
    it(`${name} resolves and validates, with a description`, async () => {
      const { config } = await loadConfig({ preset: name, cwd: ROOT });
      expect(config.description, 'description').to.be.a('string').and.not.equal('');
      expect(config.seeds.length, 'seeds').to.be.greaterThan(0);
      if (config.compare) {
        expect(config.compare.strategies.length, 'compare.strategies').to.be.greaterThan(1);
        expect(config.compare.budgets?.length ?? 0, 'compare.budgets').to.be.greaterThan(0);
      }
    });
  }
});
