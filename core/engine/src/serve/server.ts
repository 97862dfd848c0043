/**
 * `peftkit serve`: a local web dashboard over run and comparison directories, updated live with
 * server-sent events. A run's stream is its journal, tailed (only appended bytes are read); a
 * comparison's is its cells.json and each finished cell's result.json, sent again when they change.
 * The page and its scripts ship in this package (assets/, and the report's own SVG chart code from
 * dist/src/report/), so nothing is fetched from elsewhere; the Content-Security-Policy says so.
 *
 * Loopback only by default. Listening on another host needs a token, which every data request
 * (`/api/`) must carry (`?token=`); one is generated when none is given.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, unwatchFile, watchFile } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareState } from './compare-state.js';
import { isCompareDir, isRunDir, listDirs, resolveId } from './discover.js';
import { JsonlTail } from './tail.js';

export interface ServeOptions {
  /** Directories to list runs and comparisons under. */
  dirs: readonly string[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 6006 + 1 (TensorBoard's port is 6006); 0 picks a free one. */
  port?: number;
  /** Required of every request when set; generated when `host` is not a loopback address. */
  token?: string;
  /** How often files are checked for changes (ms). */
  pollMs?: number;
}

export interface Dashboard {
  /** The page's URL (with the token when there is one). */
  url: string;
  token: string | null;
  close(): Promise<void>;
}

const ENGINE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ASSETS = join(ENGINE_ROOT, 'assets');
const REPORT_JS = fileURLToPath(new URL('../report/', import.meta.url));
/** Files the page loads: its own, and the report's chart code it shares with report.html. */
const FILES: Record<string, string> = {
  '/': join(ASSETS, 'index.html'),
  '/assets/dashboard.js': join(ASSETS, 'dashboard.js'),
  '/assets/dashboard.css': join(ASSETS, 'dashboard.css'),
  '/lib/svg.js': join(REPORT_JS, 'svg.js'),
  '/lib/run-report.js': join(REPORT_JS, 'run-report.js'),
  '/lib/compare-report.js': join(REPORT_JS, 'compare-report.js'),
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'";

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** The token a dashboard on `host` requires: the given one, else a fresh one beyond loopback. */
export function dashboardToken(host: string, given?: string): string | null {
  return given ?? (isLoopback(host) ? null : randomBytes(16).toString('hex'));
}

export async function startDashboard(opts: ServeOptions): Promise<Dashboard> {
  const roots = opts.dirs.map((d) => resolve(d));
  const host = opts.host ?? '127.0.0.1';
  const token = dashboardToken(host, opts.token);
  const pollMs = opts.pollMs ?? 250;
  const closers = new Set<() => void>();

  const authorised = (url: URL): boolean => {
    if (!token) return true;
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    const want = Buffer.from(token);
    return given.length === want.length && timingSafeEqual(given, want);
  };

  /** The id of a directory for the page (a comparison's cells link to their runs). */
  const idOf = (path: string): string | null => {
    for (const [i, r] of roots.entries()) {
      const rel = relative(r, path);
      if (!rel.startsWith('..') && !isAbsolute(rel)) return `${i}/${rel.split('\\').join('/')}`;
    }
    return null;
  };

  const openStream = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'Content-Security-Policy': CSP,
    });
    res.write('retry: 1000\n\n');
    const send = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const cleanups: (() => void)[] = [];
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const close = () => {
      clearInterval(heartbeat);
      for (const c of cleanups) c();
      closers.delete(close);
      res.end();
    };
    closers.add(close);
    req.on('close', close);
    return { send, onClose: (f: () => void) => cleanups.push(f) };
  };

  /** Call `f` whenever one of `files` changes (their size or time; contents are not read here). */
  const watch = (files: string[], f: () => void): (() => void) => {
    for (const file of files) watchFile(file, { interval: pollMs, persistent: false }, f);
    return () => files.forEach((file) => unwatchFile(file, f));
  };

  const streamRun = (dir: string, req: IncomingMessage, res: ServerResponse) => {
    const s = openStream(req, res);
    const readJson = (name: string) => {
      try {
        return JSON.parse(readFileSync(join(dir, name), 'utf8')) as unknown;
      } catch {
        return null;
      }
    };
    const config = readJson('config.json') as { budget?: unknown; strategy?: unknown; task?: unknown } | null;
    s.send('meta', {
      id: idOf(dir),
      run: readJson('run.json'),
      config: config ? { strategy: config.strategy, task: config.task, budget: config.budget } : null,
    });
    const tail = new JsonlTail(join(dir, 'journal.jsonl'), (records) => s.send('records', records), pollMs);
    s.onClose(() => tail.close());
    let finished = false;
    const checkResult = () => {
      if (finished || !existsSync(join(dir, 'result.json'))) return;
      const result = readJson('result.json');
      if (!result) return;
      tail.readNew(); // the last records come before the result
      finished = true;
      s.send('result', result);
    };
    checkResult();
    s.onClose(watch([join(dir, 'result.json')], checkResult));
  };

  const streamCompare = (dir: string, req: IncomingMessage, res: ServerResponse) => {
    const s = openStream(req, res);
    let last = '';
    const push = () => {
      const state = compareState(dir);
      const cells = state.cells.map((c) => ({ ...c, id: c.dir ? idOf(c.dir) : null }));
      const text = JSON.stringify({ ...state, cells, id: idOf(dir) });
      if (text === last) return;
      last = text;
      res.write(`event: state\ndata: ${text}\n\n`);
    };
    push();
    // cells.json is rewritten whenever a cell starts, finishes or fails; compare.json once at the end.
    s.onClose(watch([join(dir, 'cells.json'), join(dir, 'compare.json')], push));
  };

  const streamList = (req: IncomingMessage, res: ServerResponse) => {
    const s = openStream(req, res);
    let last = '';
    const push = () => {
      const items = listDirs(roots);
      const text = JSON.stringify({ roots, items: items.map(({ path: _p, ...rest }) => rest) });
      if (text === last) return;
      last = text;
      res.write(`event: list\ndata: ${text}\n\n`);
    };
    push();
    const timer = setInterval(push, 1000);
    s.onClose(() => clearInterval(timer));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const fail = (code: number, message: string) => {
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`${message}\n`);
    };
    if (req.method !== 'GET') return fail(405, 'only GET');
    // The page and its scripts are this package's public code; the data behind /api/ needs the token.
    const file = FILES[url.pathname];
    if (file) {
      if (!existsSync(file)) return fail(500, `missing asset ${file} (build the package: npm run build)`);
      res.writeHead(200, {
        'Content-Type': TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream',
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': CSP,
      });
      return res.end(readFileSync(file));
    }
    if (!authorised(url))
      return fail(401, 'this dashboard needs its token: open the URL `peftkit serve` printed');
    if (url.pathname === '/api/list') return streamList(req, res);
    const id = url.searchParams.get('id') ?? '';
    const dir = resolveId(roots, id);
    if (url.pathname === '/api/run') {
      if (!dir || !isRunDir(dir)) return fail(404, `no run directory ${JSON.stringify(id)}`);
      return streamRun(dir, req, res);
    }
    if (url.pathname === '/api/compare') {
      if (!dir || !isCompareDir(dir)) return fail(404, `no comparison directory ${JSON.stringify(id)}`);
      return streamCompare(dir, req, res);
    }
    return fail(404, 'not found');
  });
  await new Promise<void>((ok, bad) => {
    server.once('error', bad);
    server.listen(opts.port ?? 6007, host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/${token ? `?token=${token}` : ''}`,
    token,
    close: () =>
      new Promise<void>((ok) => {
        for (const c of [...closers]) c();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
