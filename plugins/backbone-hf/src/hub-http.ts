/**
 * The Hugging Face hub's HTTP API, as much of it as peftkit's downloads use (the same requests
 * huggingface_hub makes):
 *
 *   GET  {endpoint}/api/models/{repo}/revision/{revision}   -> { sha, siblings: [{ rfilename }] }
 *   HEAD {endpoint}/{repo}/resolve/{commit}/{file}          -> ETag (git blob sha1) or, for LFS files,
 *        X-Linked-Etag (sha256) + X-Linked-Size and a redirect to the file's storage
 *   GET  the same URL (or the redirect's target), with Range to resume a partial download
 *
 * The endpoint is $HF_ENDPOINT (default https://huggingface.co). The token, sent as
 * `Authorization: Bearer`, is $HF_TOKEN, else the file $HF_TOKEN_PATH, else $HF_HOME/token (where
 * `huggingface-cli login` stores it); it is never printed, and only sent to the endpoint's own origin.
 */
import { DataError } from '@peftkit/api';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type Fetch = typeof globalThis.fetch;

/** Values of the hub's boolean variables that mean "on", as huggingface_hub reads them. */
export function envFlag(value: string | undefined): boolean {
  return ['1', 'on', 'yes', 'true'].includes((value ?? '').trim().toLowerCase());
}

export function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
}

export function hubToken(env: NodeJS.ProcessEnv): string | undefined {
  const direct = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  if (direct) return direct.trim();
  const file = env.HF_TOKEN_PATH || join(hfHome(env), 'token');
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8').trim() || undefined;
}

/** What a HEAD of a file's resolve URL says about it. */
export interface FileMeta {
  /** The content hash the hub names the file by: sha256 for LFS files, else the git blob sha1. */
  etag: string;
  lfs: boolean;
  size: number | undefined;
  /** Where the bytes are (the storage redirect of LFS files, else the resolve URL). */
  url: string;
}

export interface RepoInfo {
  sha: string;
  files: string[];
}

export class HubClient {
  readonly endpoint: string;
  private readonly token: string | undefined;

  constructor(
    private readonly model: string,
    private readonly revision: string,
    env: NodeJS.ProcessEnv,
    private readonly fetchImpl: Fetch = globalThis.fetch,
  ) {
    this.endpoint = (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
    this.token = hubToken(env);
  }

  /** The commit `revision` points to and the repository's file names. */
  async repoInfo(): Promise<RepoInfo> {
    const url = `${this.endpoint}/api/models/${this.model}/revision/${encodeURIComponent(this.revision)}`;
    const res = await this.request(url, { method: 'GET' });
    if (!res.ok) throw await this.httpError(res, url);
    let body: { sha?: unknown; siblings?: { rfilename?: unknown }[] };
    try {
      body = (await res.json()) as typeof body;
    } catch (e) {
      throw new DataError(`the hub's answer is not JSON: ${(e as Error).message}`, url);
    }
    if (typeof body.sha !== 'string' || !/^[0-9a-f]{40}$/.test(body.sha) || !Array.isArray(body.siblings))
      throw new DataError('expected the hub\'s model info: a commit "sha" and a "siblings" list', url);
    return {
      sha: body.sha,
      files: body.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === 'string'),
    };
  }

  resolveUrl(commit: string, file: string): string {
    return `${this.endpoint}/${this.model}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** HEAD of a file's resolve URL, following the hub's own redirects but not the one to storage. */
  async fileMeta(commit: string, file: string): Promise<FileMeta> {
    let url = this.resolveUrl(commit, file);
    for (let hop = 0; hop < 5; hop++) {
      const res = await this.request(url, { method: 'HEAD', redirect: 'manual' });
      const linked = res.headers.get('x-linked-etag');
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location && !linked) {
        url = new URL(location, url).href; // a renamed repository: the hub points to the new name
        continue;
      }
      if (!res.ok && !(res.status >= 300 && res.status < 400)) throw await this.httpError(res, url, file);
      const etag = (linked ?? res.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
      if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag))
        throw new DataError(
          `${file}: expected the hub to name the file by its hash (ETag / X-Linked-Etag), found ${JSON.stringify(etag)}`,
          url,
        );
      const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length') ?? NaN);
      return {
        etag,
        lfs: linked !== null,
        size: Number.isFinite(size) ? size : undefined,
        url: location ? new URL(location, url).href : url,
      };
    }
    throw new DataError(`${file}: more than 5 redirects`, url);
  }

  /** GET of a file's bytes from `start` (a Range request when start > 0). */
  async fileBody(url: string, start: number, file: string): Promise<Response> {
    const res = await this.request(url, {
      method: 'GET',
      headers: start > 0 ? { Range: `bytes=${start}-` } : {},
    });
    if (!res.ok && res.status !== 416) throw await this.httpError(res, url, file);
    return res;
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('Accept-Encoding', 'identity');
    headers.set('User-Agent', 'peftkit');
    // The token goes to the hub only: not to the storage an LFS file redirects to.
    if (this.token && new URL(url).origin === new URL(this.endpoint).origin)
      headers.set('Authorization', `Bearer ${this.token}`);
    try {
      return await this.fetchImpl(url, { ...init, headers });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new DataError(
        `cannot reach the Hugging Face hub to download ${this.model} (revision ${this.revision}): ` +
          `${cause?.code ?? cause?.message ?? (e as Error).message}; check the network or HF_ENDPOINT, ` +
          'or set HF_HUB_OFFLINE=1 to use only the cache',
        url,
      );
    }
  }

  private async httpError(res: Response, url: string, file?: string): Promise<DataError> {
    const code = res.headers.get('x-error-code');
    const message = res.headers.get('x-error-message') ?? (await res.text().catch(() => '')).slice(0, 200);
    const what = `${this.model} (revision ${this.revision})${file ? `, file ${file}` : ''}`;
    const detail = `HTTP ${res.status}${code ? ` ${code}` : ''}${message ? `: ${message.trim()}` : ''}`;
    let hint = '';
    if (res.status === 401 || res.status === 403 || code === 'GatedRepo')
      hint = this.token
        ? '; the token that was sent (HF_TOKEN or the token file) has no access to it: for a gated model ' +
          'accept its terms on the model page, for a private one use a token of an account that can read it'
        : '; the model is gated or private (or does not exist): set HF_TOKEN to a token that can read it ' +
          '(https://huggingface.co/settings/tokens; for a gated model accept its terms first)';
    else if (res.status === 404)
      hint =
        code === 'RevisionNotFound'
          ? `; there is no revision ${this.revision}`
          : file
            ? `; the repository has no ${file}`
            : '; no such model';
    return new DataError(`cannot download ${what}: ${detail}${hint}`, url);
  }
}
