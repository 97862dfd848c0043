import { expect } from 'chai';
import { ConfigError, Rng } from '@peftkit/api';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendDescription } from '@peftkit/api';
import { InProcessBackend, tinyBackbone, tinyTask, toModuleTypes } from '@peftkit/testing';

const quietLogger = { info: () => {}, warn: () => {}, debug: () => {} };
import { Workbench, availableMemory, cgroupHeadroom, passMemoryOf } from '../src/index.js';

/** A workbench over the tiny fixtures whose passes may take `passMemory` bytes. */
function workbench(passMemory?: number, memoryLimit?: number): Workbench {
  return new Workbench({
    backbone: tinyBackbone({ hidden: 8 }),
    task: tinyTask({ train: 24, validation: 12, test: 12 }),
    backend: new InProcessBackend(),
    types: toModuleTypes([]),
    seed: 5,
    log: quietLogger,
    ...(passMemory !== undefined ? { passMemory } : {}),
    ...(memoryLimit !== undefined ? { memoryLimit } : {}),
  });
}

const HEAD_ONLY = { modules: [] };

describe('workbench memory: passes and limits', function () {
  this.timeout(60_000);

  it('memory.passMiB sets the pass memory; unset, the default', () => {
    expect(passMemoryOf({ memory: { passMiB: 3 } })).to.equal(3 * 2 ** 20);
    expect(passMemoryOf({})).to.equal(64 * 2 ** 20);
  });

  it('cuts a batch into near-equal passes that fit, and runs a small batch in one', async () => {
    const wb = workbench(1); // one byte: one sequence per pass
    const c = await wb.compile(HEAD_ONLY, 'train');
    expect(c.bytesPerSequence(wb.maxLength)).to.be.greaterThan(0);
    expect(wb.passes(c, 'train', [0, 1, 2, 3, 4])).to.deep.equal([[0], [1], [2], [3], [4]]);
    const perSeq = c.bytesPerSequence(8);
    const roomy = workbench(10 * 2 ** 20);
    const r = await roomy.compile(HEAD_ONLY, 'train');
    expect(roomy.passes(r, 'train', [0, 1, 2, 3, 4])).to.deep.equal([[0, 1, 2, 3, 4]]);
    expect(perSeq).to.be.lessThan(10 * 2 ** 20);
  });

  it('a step in several passes gives the loss and gradients of one pass over the batch', async () => {
    const one = workbench();
    const many = workbench(1);
    const c1 = await one.compile(HEAD_ONLY, 'train');
    const cN = await many.compile(HEAD_ONLY, 'train');
    const params = one.toolkit.init(HEAD_ONLY, new Rng(3));
    const fetches = ['loss', ...c1.layout.params.map((p) => `grad:${p.name}`)];
    const batch = [0, 3, 5, 6, 9, 11, 2];
    expect(many.passes(cN, 'train', batch)).to.have.length(batch.length);
    const a = await one.step(c1, 'train', batch, params, {}, fetches);
    const b = await many.step(cN, 'train', batch, params, {}, fetches);
    for (const f of fetches) {
      const x = a[f]!.data as Float32Array;
      const y = b[f]!.data as Float32Array;
      expect(y.length).to.equal(x.length);
      x.forEach((v, i) => expect(y[i]).to.be.closeTo(v, 1e-5 + 1e-5 * Math.abs(v)));
    }
  });

  it('evaluation in one-sequence passes scores the same', async () => {
    const params = workbench().toolkit.init(HEAD_ONLY, new Rng(4));
    const a = await workbench().evaluate(HEAD_ONLY, params, {}, 'validation', 64);
    const b = await workbench(1).evaluate(HEAD_ONLY, params, {}, 'validation', 64);
    expect(b.accuracy).to.equal(a.accuracy);
    expect(b.loss).to.be.closeTo(a.loss!, 1e-5);
  });

  it('refuses a program whose passes cannot fit the free memory, naming what to lower', async () => {
    const wb = workbench(2 ** 50);
    const err = await wb.compile(HEAD_ONLY, 'train').catch((e: Error) => e);
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.match(
      /memory\.passMiB: .*needs about .* more memory to run: .* frozen parameters and up to .* per pass .* but only .* is available/s,
    );
    expect((err as Error).message).to.match(/hint: lower memory\.passMiB .*backbone\.options\.maxLength/);
  });

  it('memory.limitMiB: a program that would take the process over the limit is refused before it is compiled', async () => {
    const backend = new InProcessBackend();
    const wb = new Workbench({
      ...workbench().parts,
      backend,
      memoryLimit: process.memoryUsage().rss + 2 ** 20,
    });
    const err = await wb.compile(HEAD_ONLY, 'train').catch((e: Error) => e);
    expect(err).to.be.instanceOf(ConfigError);
    // About 1 MiB is left; the process may have grown (or shrunk) a little by the time it is checked.
    expect((err as Error).message).to.match(
      /but only \d+ MiB is available \(memory\.limitMiB \d+ less the \d+ MiB the process holds\)/,
    );
    expect(backend.compiled).to.equal(0);
    const roomy = workbench(undefined, process.memoryUsage().rss + 2 ** 30);
    expect((await roomy.compile(HEAD_ONLY, 'train')).bytesPerSequence(8)).to.be.greaterThan(0);
  });

  it('a backend that holds the weights once: a second program is not charged another copy', async () => {
    class SharingBackend extends InProcessBackend {
      override describe(): BackendDescription {
        return { ...super.describe(), sharesWeights: true };
      }
    }
    const wb = new Workbench({ ...workbench().parts, backend: new SharingBackend() });
    await wb.compile(HEAD_ONLY, 'train');
    wb.parts.memoryLimit = process.memoryUsage().rss + 2 ** 20;
    const second = await wb.compile(HEAD_ONLY, 'eval').catch((e: Error) => e);
    expect(second).to.be.instanceOf(ConfigError);
    expect((second as Error).message).to.match(/needs about .* more memory to run: up to .* per pass/);
    expect((second as Error).message).not.to.match(/frozen parameters/);
    // The first program brings the copy the backend then holds.
    const fresh = new Workbench({
      ...workbench().parts,
      backend: new SharingBackend(),
      memoryLimit: process.memoryUsage().rss + 2 ** 20,
    });
    const first = await fresh.compile(HEAD_ONLY, 'train').catch((e: Error) => e);
    expect((first as Error).message).to.match(/for a copy of the backbone's .* frozen parameters/);
  });

  describe('cgroup headroom', () => {
    let root: string;
    const write = (rel: string, text: string) => {
      const p = join(root, rel);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, text);
    };
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'peftkit-cgroup-'));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it("cgroup v2: the process's group's memory.max less its working set (usage less inactive_file)", () => {
      write('proc-cgroup', '0::/job/run\n');
      write('job/run/memory.max', '1000000\n');
      write('job/run/memory.current', '800000\n');
      write('job/run/memory.stat', 'anon 400000\nfile 400000\nactive_file 100000\ninactive_file 300000\n');
      const paths = { root, procCgroup: join(root, 'proc-cgroup') };
      expect(cgroupHeadroom(paths)).to.equal(1000000 - (800000 - 300000));
      const avail = availableMemory(undefined, paths);
      expect(avail.bytes).to.equal(500000);
      expect(avail.source).to.equal("the cgroup's memory.max less its working set");
    });

    it('cgroup v2 without a limit ("max") or without cgroup files: no headroom figure', () => {
      write('proc-cgroup', '0::/\n');
      write('memory.max', 'max\n');
      write('memory.current', '5\n');
      expect(cgroupHeadroom({ root, procCgroup: join(root, 'proc-cgroup') })).to.equal(null);
      expect(cgroupHeadroom({ root: join(root, 'absent'), procCgroup: join(root, 'absent', 'x') })).to.equal(
        null,
      );
    });

    it('cgroup v1: limit_in_bytes less usage_in_bytes less total_inactive_file; a huge limit means none', () => {
      write('memory/memory.limit_in_bytes', '2000000\n');
      write('memory/memory.usage_in_bytes', '1500000\n');
      write('memory/memory.stat', 'cache 900000\ntotal_inactive_file 700000\n');
      const paths = { root, procCgroup: join(root, 'none') };
      expect(cgroupHeadroom(paths)).to.equal(2000000 - (1500000 - 700000));
      write('memory/memory.limit_in_bytes', String(2 ** 63) + '\n');
      expect(cgroupHeadroom(paths)).to.equal(null);
    });
  });
});
