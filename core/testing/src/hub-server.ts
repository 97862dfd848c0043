/**
 * A loopback stand-in for the Hugging Face hub (tests only), serving checkpoint directories under
 * hub-shaped URLs on 127.0.0.1 at a random port; point HF_ENDPOINT at `endpoint`.
 *
 *   GET  /api/models/{repo}/revision/{rev}   { sha, siblings: [{ rfilename }] } (rev: main or the commit)
 *   HEAD|GET /{repo}/resolve/{rev}/{file}    X-Repo-Commit; regular files: ETag = git blob sha1, the
 *                                            bytes; *.safetensors as LFS files: X-Linked-Etag = sha256,
 *                                            X-Linked-Size, 302 to /lfs/{sha256}
 *   GET  /lfs/{sha256}                       the bytes (Range: 206 + Content-Range)
 *
 * Unknown repositories and revisions answer as the hub does (401 RepoNotFound, 404 RevisionNotFound);
 * with `token` set, requests to the hub's own URLs without `Authorization: Bearer <token>` get 401
 * GatedRepo. Faults for the tests: `dropAfter` (file -> bytes: the next GET of the file sends that many
 * bytes and drops the connection) and `corrupt` (files served with a flipped byte under their true hashes).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface HubRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface HubServer {
  endpoint: string;
  /** Every request served, in order. */
  requests: HubRequest[];
  /** The commit hash a repository's main branch points to. */
  commit(repo: string): string;
  /** The bytes of a repository's file. */
  bytes(repo: string, file: string): Buffer;
  dropAfter: Map<string, number>;
  corrupt: Set<string>;
  token: string | undefined;
  close(): Promise<void>;
}

interface RepoFile {
  bytes: Buffer;
  lfs: boolean;
  etag: string;
}

export async function startHubServer(repos: Record<string, string>): Promise<HubServer> {
  const served = new Map<string, { commit: string; files: Map<string, RepoFile> }>();
  const byHash = new Map<string, RepoFile>();
  for (const [repo, dir] of Object.entries(repos)) {
    const files = new Map<string, RepoFile>();
    for (const name of readdirSync(dir).sort()) {
      if (!statSync(join(dir, name)).isFile()) continue;
      const bytes = readFileSync(join(dir, name));
      const lfs = name.endsWith('.safetensors');
      const etag = lfs
        ? createHash('sha256').update(bytes).digest('hex')
        : createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
      files.set(name, { bytes, lfs, etag });
      if (lfs) byHash.set(etag, files.get(name)!);
    }
    const commit = createHash('sha1')
      .update(repo)
      .update([...files.values()].map((f) => f.etag).join())
      .digest('hex');
    served.set(repo, { commit, files });
  }

  const server: HubServer = {
    endpoint: '',
    requests: [],
    commit: (repo) => served.get(repo)!.commit,
    bytes: (repo, file) => served.get(repo)!.files.get(file)!.bytes,
    dropAfter: new Map(),
    corrupt: new Set(),
    token: undefined,
    close: () =>
      new Promise((r) => {
        http.close(() => r());
        http.closeAllConnections();
      }),
  };

  const fail = (res: ServerResponse, status: number, code: string) => {
    res.writeHead(status, { 'X-Error-Code': code, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: code }));
  };

  const sendBytes = (
    req: { method?: string; headers: IncomingHttpHeaders },
    res: ServerResponse,
    f: RepoFile,
    name: string,
  ) => {
    let body = f.bytes;
    if (server.corrupt.has(name)) {
      body = Buffer.from(body);
      body[body.length >> 1]! ^= 0xff;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const headers: Record<string, string | number> = { 'Content-Length': body.length - start };
    if (range) {
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
        res.end();
        return;
      }
      headers['Content-Range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const drop = server.dropAfter.get(name);
    if (drop !== undefined) {
      server.dropAfter.delete(name);
      // The bytes, time for the client to read them (a stream that errors drops what it has queued),
      // then the connection ends short of Content-Length.
      res.write(body.subarray(start, start + drop), () => setTimeout(() => res.socket?.destroy(), 300));
      return;
    }
    res.end(body.subarray(start));
  };

  const http = createServer((req, res) => {
    server.requests.push({ method: req.method!, url: req.url!, headers: req.headers });
    const url = decodeURI(req.url!.split('?')[0]!);
    const lfs = /^\/lfs\/([0-9a-f]{64})$/.exec(url);
    if (lfs) {
      const f = byHash.get(lfs[1]!);
      if (!f) return fail(res, 404, 'EntryNotFound');
      const name = [...served.values()].flatMap((r) => [...r.files]).find(([, v]) => v === f)![0];
      return sendBytes(req, res, f, name);
    }
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const repo = served.get((api ?? resolve)?.[1] ?? '');
    if (!api && !resolve) return fail(res, 404, 'NotFound');
    if (server.token && req.headers.authorization !== `Bearer ${server.token}`)
      return fail(res, 401, 'GatedRepo');
    if (!repo) return fail(res, 401, 'RepoNotFound');
    const rev = (api ?? resolve)![2]!;
    if (rev !== 'main' && rev !== repo.commit) return fail(res, 404, 'RevisionNotFound');
    if (api) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          sha: repo.commit,
          siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
        }),
      );
      return;
    }
    const name = resolve![3]!;
    const f = repo.files.get(name);
    if (!f) return fail(res, 404, 'EntryNotFound');
    res.setHeader('X-Repo-Commit', repo.commit);
    if (f.lfs) {
      res.writeHead(302, {
        Location: `/lfs/${f.etag}`,
        'X-Linked-Etag': `"${f.etag}"`,
        'X-Linked-Size': f.bytes.length,
        'Content-Length': 0,
      });
      res.end();
      return;
    }
    res.setHeader('ETag', `"${f.etag}"`);
    sendBytes(req, res, f, name);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  server.endpoint = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return server;
}
