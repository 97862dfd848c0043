/** `instanceof` of the error classes across copies of @peftkit/api (a plugin's own node_modules). */
import { expect } from 'chai';
import { ConfigError, DataError, PeftkitError, PluginError } from '../src/errors.js';

// A second instance of the module, as a plugin with its own copy of @peftkit/api would load.
const copy = (await import(
  `${new URL('../src/errors.js', import.meta.url).href}?second-copy`
)) as typeof import('../src/errors.js');

describe('error classes of another copy of @peftkit/api', () => {
  it('are recognised as the class of the same name and its bases', () => {
    expect(copy.ConfigError).not.to.equal(ConfigError);
    const e = new copy.ConfigError('bad', 'a.yaml', 'x');
    expect(e instanceof ConfigError).to.equal(true);
    expect(e instanceof PeftkitError).to.equal(true);
    expect(e instanceof Error).to.equal(true);
    expect(new copy.PluginError('m', 'p') instanceof PluginError).to.equal(true);
    expect(new copy.DataError('m') instanceof DataError).to.equal(true);
  });

  it('are not taken for other classes', () => {
    expect(new copy.ConfigError('bad') instanceof DataError).to.equal(false);
    expect(new copy.PeftkitError('x') instanceof ConfigError).to.equal(false);
    expect(new Error('x') instanceof PeftkitError).to.equal(false);
    expect((null as unknown as object) instanceof PeftkitError).to.equal(false);
    class Other extends ConfigError {}
    expect(new ConfigError('x') instanceof Other).to.equal(false);
    expect(new copy.ConfigError('x') instanceof Other).to.equal(false);
    expect(new Other('x') instanceof ConfigError).to.equal(true);
  });
});
