/**
 * A real redis-server for a test: on loopback, on a free port, with a password, its data in a
 * temporary directory (append-only file, so a restart keeps the queue). `restart()` stops it
 * (SIGTERM: it writes its data and exits) and starts it again on the same port.
 *
 * With `tls` it listens with TLS only (--tls-port; Debian's redis-server is built with it), its
 * certificate made by `makeTestCertificates` (openssl): a throwaway CA and a server certificate for
 * 127.0.0.1.
 *
 * The binary is REDIS_SERVER or redis-server on the PATH (/usr/bin/redis-server from Debian's
 * package; .ci/run installs it). Without it the tests skip locally and fail under CI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

export function haveRedis(): boolean {
  return spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

export interface TestCertificates {
  /** PEM files: the CA's certificate, and the server's certificate (signed by it) and key. */
  ca: string;
  cert: string;
  key: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it, in `dir` (openssl). */
export function makeTestCertificates(dir: string): TestCertificates {
  const f = (name: string) => join(dir, name);
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.error?.message ?? r.stderr}`);
  };
  writeFileSync(f('san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=peftkit test CA'].concat([
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
    ]),
  );
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  ]);
  run(
    [
      'x509',
      '-req',
      '-in',
      f('server.csr'),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
    ].concat(['-days', '2', '-extfile', f('san.cnf'), '-out', f('server.crt')]),
  );
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

export class TestRedis {
  private proc: ChildProcess | undefined;
  readonly password = randomBytes(12).toString('hex');
  private readonly dir = mkdtempSync(join(tmpdir(), 'peftkit-redis-'));

  private constructor(
    readonly port: number,
    private readonly tls?: TestCertificates,
  ) {}

  static async start(opts: { tls?: TestCertificates } = {}): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), opts.tls);
    await r.launch();
    return r;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://:${this.password}@127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    const listen = this.tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', this.tls.cert].concat([
          '--tls-key-file',
          this.tls.key,
          '--tls-ca-cert-file',
          this.tls.ca,
          '--tls-auth-clients',
          'no',
        ])
      : ['--port', String(this.port)];
    const args = [
      ...listen,
      ...['--bind', '127.0.0.1', '--requirepass', this.password],
      ...[
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--save',
        '',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ],
      ...['--protected-mode', 'yes'],
    ];
    const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let log = '';
    proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    // Ready once it accepts a connection.
    const t0 = Date.now();
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}): ${log}`);
      const ok = await new Promise<boolean>((done) => {
        const c = new Socket();
        c.once('connect', () => {
          c.destroy();
          done(true);
        });
        c.once('error', () => done(false));
        c.connect(this.port, '127.0.0.1');
      });
      if (ok) return;
      if (Date.now() - t0 > 10_000) throw new Error(`redis-server did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((done) => {
      p.once('exit', () => done());
      p.kill('SIGTERM');
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
