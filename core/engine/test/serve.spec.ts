import { expect } from 'chai';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlTail, dashboardToken, listDirs, startDashboard } from '../src/index.js';

/** Status and the first chunk of a GET (event streams never end: the first event is enough). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, bad) => {
    const req = request(url, (res) => {
      res.once('data', (d) => {
        ok({ status: res.statusCode ?? 0, body: String(d) });
        req.destroy();
      });
      res.once('end', () => ok({ status: res.statusCode ?? 0, body: '' }));
    });
    req.on('error', bad);
    req.end();
  });
}

describe('peftkit serve (server side)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'peftkit-serve-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists run and comparison directories, not the cells inside a comparison', () => {
    mkdirSync(join(dir, 'a-run'));
    writeFileSync(join(dir, 'a-run', 'run.json'), '{}');
    mkdirSync(join(dir, 'cmp', 'runs', 'cell'), { recursive: true });
    writeFileSync(join(dir, 'cmp', 'cells.json'), '[]');
    writeFileSync(join(dir, 'cmp', 'runs', 'cell', 'run.json'), '{}');
    const items = listDirs([dir]).map((i) => `${i.kind} ${i.id} ${i.status}`);
    expect(items.sort()).to.deep.equal(['compare 0/cmp running', 'run 0/a-run running']);
  });

  it('tails appended bytes only, delivering a line once it is complete', () => {
    const file = join(dir, 'journal.jsonl');
    writeFileSync(file, '{"seq":1}\n{"seq":2}\n{"se');
    const got: unknown[] = [];
    const tail = new JsonlTail(file, (rs) => got.push(...rs.map((r) => r.seq)), 60_000);
    try {
      expect(got).to.deep.equal([1, 2]);
      appendFileSync(file, 'q":3}\n{"seq":"é');
      tail.readNew();
      expect(got).to.deep.equal([1, 2, 3]);
      appendFileSync(file, '"}\n');
      tail.readNew();
      expect(got).to.deep.equal([1, 2, 3, 'é']);
    } finally {
      tail.close();
    }
  });

  it('needs the token on every data request when it has one, and never leaves its roots', async () => {
    mkdirSync(join(dir, 'r'));
    writeFileSync(join(dir, 'r', 'run.json'), '{}');
    const dash = await startDashboard({ dirs: [dir], port: 0, token: 'sesame' });
    try {
      expect(dash.url).to.match(/\?token=sesame$/);
      const base = dash.url.replace(/\?.*$/, '');
      expect((await get(`${base}api/list`)).status).to.equal(401);
      expect((await get(`${base}api/list?token=wrong!`)).status).to.equal(401);
      const ok = await get(`${base}api/list?token=sesame`);
      expect(ok.status).to.equal(200);
      expect((await get(`${base}api/run?id=0/../..&token=sesame`)).status).to.equal(404);
      // The page itself is public code; its data is not.
      expect((await get(base)).status).to.equal(200);
    } finally {
      await dash.close();
    }
  });

  it('generates a token for any host but loopback', () => {
    expect(dashboardToken('0.0.0.0')).to.match(/^[0-9a-f]{32}$/);
    expect(dashboardToken('192.168.1.5')).to.not.equal(dashboardToken('192.168.1.5'));
    expect(dashboardToken('127.0.0.1')).to.equal(null);
    expect(dashboardToken('::1')).to.equal(null);
    expect(dashboardToken('localhost', 'given')).to.equal('given');
  });
});
