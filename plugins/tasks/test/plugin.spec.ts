import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Contribution, ContainerModuleLoadOptions, CreateContext, Task } from '@peftkit/api';
import plugin from '../src/plugin.js';
import type { OptionSchema } from '../src/options.js';

function contributions(): Contribution[] {
  const out: Contribution[] = [];
  const bind = () => ({ toConstantValue: (c: Contribution) => out.push(c) });
  void plugin.load({ bind } as unknown as ContainerModuleLoadOptions);
  return out;
}

describe('tasks plugin module', () => {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    peftkit: { contributes: Record<string, string[]> };
  };

  it('contributes exactly the tasks its package.json declares', () => {
    const list = contributions();
    expect(list.every((c) => c.kind === 'task')).to.equal(true);
    expect(list.map((c) => c.name)).to.deep.equal(manifest.peftkit.contributes.task);
    expect(manifest.peftkit.contributes.task).to.deep.equal([
      'sentiment',
      'spam',
      'sotu-party',
      'tsv',
      'jsonl',
    ]);
  });

  it('has closed option schemas with a description on every property', () => {
    for (const c of contributions()) {
      const schema = c.optionsSchema as OptionSchema;
      expect(schema.additionalProperties, c.name).to.equal(false);
      for (const [key, prop] of Object.entries(schema.properties ?? {})) {
        expect(prop.description, `${c.name}.${key}`).to.be.a('string').and.not.equal('');
      }
      expect(schema.properties, c.name).to.have.property('splitSeed');
    }
  });

  it('resolves tsv paths against ctx.baseDir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peftkit-plugin-'));
    try {
      writeFileSync(join(dir, 'd.tsv'), 'text\tlabel\ngood\t1\nbad\t0\n');
      const tsv = contributions().find((c) => c.name === 'tsv')!;
      const ctx = { baseDir: dir } as CreateContext;
      const task = (await tsv.create({ train: 'd.tsv', validation: 'd.tsv', test: 'd.tsv' }, ctx)) as Task;
      expect(task.splits.test).to.have.length(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
