/**
 * Every command's --help shows examples, and the top-level help points at the docs. The commands
 * are found by walking the help output itself, so a command added later without `.example()`
 * fails here.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { main } from '../src/cli.js';
import { docsDir } from '../src/version.js';

async function help(path: string[]): Promise<string> {
  let out = '';
  const code = await main([...path, '--help'], { out: (t) => void (out += t), err: (t) => void (out += t) });
  expect(code, `peftkit ${path.join(' ')} --help`).to.equal(0);
  return out;
}

/** The (sub)command names listed under `Commands:` of a help text, after the `path` prefix. */
function subcommands(text: string, path: string[]): string[] {
  const section = text.split(/\n\n/).find((s) => s.startsWith('Commands:'));
  if (!section) return [];
  const prefix = ['peftkit', ...path].join(' ');
  return section
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${prefix} `))
    .map((l) => l.slice(prefix.length + 1).split(/\s+/)[0]!)
    .filter((c) => c !== '' && !c.startsWith('<') && !c.startsWith('['));
}

describe('peftkit --help', function () {
  this.timeout(30_000);

  it('the top-level help has examples and an epilog naming the installed docs', async () => {
    const text = await help([]);
    expect(text).to.include('Examples:');
    expect(text).to.include(`Documentation: ${docsDir()}`);
    expect(existsSync(docsDir()), docsDir()).to.equal(true);
  });

  it('every command and subcommand has examples', async () => {
    const missing: string[] = [];
    const visited: string[] = [];
    const visit = async (path: string[]) => {
      const text = await help(path);
      visited.push(path.join(' '));
      if (!text.includes('Examples:')) missing.push(`peftkit ${path.join(' ')}`);
      for (const sub of subcommands(text, path)) await visit([...path, sub]);
    };
    for (const command of subcommands(await help([]), [])) await visit([command]);
    expect(visited).to.include.members(['search', 'train', 'presets list', 'presets show', 'plugins list']);
    expect(missing, 'commands without .example() in their builder').to.deep.equal([]);
  });
});

describe('the peftkit package', () => {
  it('depends on every built-in plugin, so that installing it gives them', async () => {
    const { BUILTIN_PLUGIN_PACKAGES } = await import('@peftkit/engine');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of BUILTIN_PLUGIN_PACKAGES)
      expect(pkg.dependencies[name], name).to.equal(pkg.dependencies['@peftkit/engine']);
  });
});
