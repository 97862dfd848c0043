/** The contribution: what the plugin binds, its options schema, and `create` with a preset's baseDir. */
import {
  type Backbone,
  CONTRIBUTION,
  type Contribution,
  type ContainerModuleLoadOptions,
} from '@peftkit/api';
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import plugin from '../src/plugin.js';
import { loadHfBackbone } from '../src/index.js';
import { TOOL_PATH, scratch } from './helpers.js';

function contributions(): Contribution[] {
  const bound: Contribution[] = [];
  const bind = ((id: unknown) => ({
    toConstantValue: (c: Contribution) => {
      expect(id).to.equal(CONTRIBUTION);
      bound.push(c);
    },
  })) as unknown as ContainerModuleLoadOptions['bind'];
  void plugin.load({ bind } as ContainerModuleLoadOptions);
  return bound;
}

describe('hf backbone: plugin', function () {
  this.timeout(30_000);
  const tmp = scratch();
  after(() => tmp.cleanup());

  it('binds one backbone contribution named hf, as package.json declares', () => {
    const bound = contributions();
    expect(bound.map((c) => [c.kind, c.name])).to.deep.equal([['backbone', 'hf']]);
    const pkgFile = fileURLToPath(new URL('../../package.json', import.meta.url));
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as {
      peftkit: { contributes: unknown; module: string };
    };
    expect(pkg.peftkit.contributes).to.deep.equal({ backbone: ['hf'] });
    expect(pkg.peftkit.module).to.equal('./dist/src/plugin.js');
  });

  it('has an options schema with a description for every option, path or model required, no extras', () => {
    const schema = contributions()[0]!.optionsSchema as {
      oneOf: { required: string[] }[];
      additionalProperties: boolean;
      properties: Record<string, { description?: string }>;
    };
    expect(schema.oneOf).to.deep.equal([{ required: ['path'] }, { required: ['model'] }]);
    expect(schema.additionalProperties).to.equal(false);
    expect(Object.keys(schema.properties).sort()).to.deep.equal([
      'dropout',
      'head',
      'maxLength',
      'model',
      'path',
      'pooling',
      'revision',
    ]);
    for (const [k, p] of Object.entries(schema.properties)) {
      expect(p.description, k).to.be.a('string');
      expect(p.description!.length, k).to.be.greaterThan(20);
    }
  });

  it('create() resolves path against ctx.baseDir and logs what it loaded', async () => {
    execFileSync(process.execPath, [
      fileURLToPath(TOOL_PATH),
      '--type',
      'roberta',
      '--out',
      join(tmp.dir, 'ck'),
      '--task-head',
    ]);
    const logs: string[] = [];
    const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), debug: () => {} };
    const backbone = (await contributions()[0]!.create(
      { path: 'ck', pooling: 'mean' },
      { baseDir: tmp.dir, log, resolve: () => Promise.reject(new Error('unused')) },
    )) as Backbone;
    expect(backbone.info).to.deep.include({ name: 'hf', modelType: 'roberta' });
    expect(logs.join('\n')).to.match(
      /backbone hf: roberta encoder from .*ignored .*classifier\.out_proj\.weight/,
    );
  });
});

describe('tools/make-hf-checkpoint.mjs', function () {
  this.timeout(30_000);
  const tmp = scratch();
  after(() => tmp.cleanup());
  const tool = fileURLToPath(TOOL_PATH);

  it('writes the files of a transformers checkpoint, with the requested dimensions', async () => {
    const out = join(tmp.dir, 'distil');
    const stdout = execFileSync(process.execPath, [
      tool,
      '--type',
      'distilbert',
      '--out',
      out,
      '--layers',
      '1',
      '--hidden',
      '16',
      '--heads',
      '2',
      '--seed',
      '5',
    ]).toString();
    expect(stdout).to.match(/wrote distilbert checkpoint/);
    for (const f of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'special_tokens_map.json',
      'vocab.txt',
    ]) {
      expect(() => readFileSync(join(out, f)), f).not.to.throw();
    }
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).to.deep.include({
      model_type: 'distilbert',
      dim: 16,
      n_layers: 1,
      n_heads: 2,
      hidden_dim: 64,
      architectures: ['DistilBertModel'],
    });
    const b = await loadHfBackbone({ path: out });
    expect(b.info).to.deep.include({ numLayers: 1, pooledSize: 16 });
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const run = (seed: string, dir: string) => {
      execFileSync(process.execPath, [tool, '--type', 'bert', '--out', join(tmp.dir, dir), '--seed', seed]);
      return readFileSync(join(tmp.dir, dir, 'model.safetensors'));
    };
    const a = run('3', 'a');
    expect(a.equals(run('3', 'b'))).to.equal(true);
    expect(a.equals(run('4', 'c'))).to.equal(false);
  });

  it('rejects bad arguments with a message', () => {
    const r = spawnSync(process.execPath, [tool, '--type', 'gpt2', '--out', join(tmp.dir, 'x')]);
    expect(r.status).to.equal(2);
    expect(r.stderr.toString()).to.match(/--type must be bert, roberta or distilbert/);
  });
});
