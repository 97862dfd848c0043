/**
 * A hub id end to end: `peftkit train` on `backbone: { name: hf, options: { model: org/tiny-bert } }`
 * downloads the checkpoint (made by transformers, tools/python/hf_fixtures.py) from a loopback
 * stand-in for the hub (HF_ENDPOINT) into a temporary HF_HUB_CACHE; huggingface_hub's scan_cache_dir
 * and transformers' from_pretrained(id, local_files_only=True) read what peftkit downloaded
 * (tools/python/hub_cache_check.py); a second command with HF_HUB_OFFLINE=1 loads it from the cache
 * with no request.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  hfFixtures,
  type HubServer,
  requireGoldenPython,
  runPythonTool,
  startHubServer,
} from '@peftkit/testing';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'core/cli/bin/peftkit.js');
const REPO = 'org/tiny-bert';

/** The CLI as a child process, without blocking this process (it serves the hub). */
function cli(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

describe('hub ids: peftkit downloads into the Hugging Face cache, and transformers reads it', function () {
  this.timeout(300_000);
  let dir = '';
  let hub: HubServer | undefined;
  let python = '';
  let fixtures = '';

  before(async function () {
    python = requireGoldenPython(this);
    fixtures = await hfFixtures(python);
    dir = mkdtempSync(join(tmpdir(), 'peftkit-hub-'));
    hub = await startHubServer({ [REPO]: join(fixtures, 'bert') });
    const rows = ['good film', 'bad phone', 'great service', 'terrible bread'].map((t, i) =>
      JSON.stringify({ text: t, label: i % 2 ? 'neg' : 'pos' }),
    );
    writeFileSync(join(dir, 'train.jsonl'), `${rows.join('\n')}\n`);
    writeFileSync(
      join(dir, 'preset.yaml'),
      `backbone: { name: hf, options: { model: ${REPO}, revision: main, maxLength: 16 } }
task: { name: jsonl, options: { train: ./train.jsonl, validation: ./train.jsonl, test: ./train.jsonl, labels: [neg, pos] } }
architecture:
  targets:
    - { type: lora, targets: ['layer.*.attn.q'], rank: 2 }
seeds: [1]
recipes:
  retrain: { epochs: 1, batchSize: 4, lr: 0.01 }
output: { dir: ./runs, name: hub }
`,
    );
  });
  after(async () => {
    await hub?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('train on org/name downloads it; huggingface_hub and transformers load it from that cache; a second run is offline', async () => {
    const cache = join(dir, 'hf-cache');
    const env = { HF_ENDPOINT: hub!.endpoint, HF_HUB_CACHE: cache, HF_HOME: join(dir, 'hf-home') };
    const trained = await cli(
      ['train', '--preset', 'preset.yaml', '--json', '--reporter', 'quiet'],
      dir,
      env,
    );
    expect(trained.code, trained.err).to.equal(0);
    const [run] = JSON.parse(trained.out) as { dir: string }[];
    expect(hub!.requests.filter((r) => r.url.includes('/resolve/')).length).to.be.greaterThan(0);

    const check = JSON.parse(
      await runPythonTool(python, 'hub_cache_check.py', [cache, REPO, join(fixtures, 'bert')]),
    ) as {
      repos: { repo_id: string; refs: string[]; files: string[] }[];
      warnings: string[];
      sameIds: boolean;
      maxDiff: number;
    };
    expect(check.warnings).to.deep.equal([]);
    expect(check.repos).to.have.length(1);
    expect(check.repos[0]).to.include({ repo_id: REPO });
    expect(check.repos[0]!.refs).to.deep.equal(['main']);
    expect(check.repos[0]!.files).to.include.members(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(check.sameIds).to.equal(true);
    expect(check.maxDiff).to.equal(0);

    hub!.requests.length = 0;
    const offline = { ...env, HF_HUB_OFFLINE: '1' };
    const again = await cli(['eval', run!.dir, '--split', 'test', '--json'], dir, offline);
    expect(again.code, again.err).to.equal(0);
    // The ONNX export of a run on a hub id takes config.json and the tokenizer from the cached snapshot.
    const exported = await cli(['export', run!.dir, '--format', 'onnx', '--out', 'onnx'], dir, offline);
    expect(exported.code, exported.err).to.equal(0);
    expect(readdirSync(join(dir, 'onnx'))).to.include.members([
      'config.json',
      'tokenizer.json',
      'model.onnx',
    ]);
    const tc = JSON.parse(readFileSync(join(dir, 'onnx', 'tokenizer_config.json'), 'utf8')) as {
      model_max_length: number;
    };
    expect(tc.model_max_length, "peftkit's maxLength, where it truncated").to.equal(16);
    expect(hub!.requests, 'requests of the commands after the download').to.deep.equal([]);

    const missing = await cli(['train', '--preset', 'preset.yaml'], dir, {
      ...env,
      HF_HUB_CACHE: join(dir, 'empty-cache'),
      HF_HUB_OFFLINE: '1',
    });
    expect(missing.code).to.equal(1);
    expect(missing.err)
      .to.contain(`${REPO} (revision main) is not in the Hugging Face cache ${join(dir, 'empty-cache')}`)
      .and.contain('HF_HUB_OFFLINE is set');
  });
});
