/**
 * TLS to Redis (`rediss://` URLs). ioredis turns TLS on from the scheme and verifies the server's
 * certificate against Node's CA store (plus NODE_EXTRA_CA_CERTS); a private CA is given as a PEM
 * file (`executor.options.tls.ca`, `peftkit worker --tls-ca`). A certificate that does not verify
 * would make ioredis reconnect for ever, so the executor shakes hands once when it is created and
 * refuses it with the reason; a server that cannot be reached yet is left to the reconnecting
 * connection.
 */
import { ConfigError } from '@peftkit/api';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { shownUrl } from './options.js';

/** The PEM text of `options.tls.ca` (relative to `baseDir`), if one is given. */
export function readCa(tls: { ca?: string } | undefined, baseDir: string): string | undefined {
  if (!tls?.ca) return undefined;
  const file = isAbsolute(tls.ca) ? tls.ca : resolve(baseDir, tls.ca);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `cannot read the Redis CA certificate (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected a PEM file`,
      file,
      'executor.options.tls.ca',
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError(
      'the Redis CA certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)',
      file,
      'executor.options.tls.ca',
    );
  return pem;
}

/** Errors of the handshake that retrying cannot fix: the certificate, or a server that speaks no TLS. */
const FATAL = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_SSL_|ERR_TLS_/;

/** For a `rediss://` URL: one TLS handshake, throwing a ConfigError when the server's certificate does not verify. */
export async function checkTls(url: string, ca: string | undefined, timeoutMs = 10_000): Promise<void> {
  const u = new URL(url);
  if (u.protocol !== 'rediss:') return;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port === '' ? 6379 : Number(u.port);
  const error = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
    const socket = tlsConnect({
      host,
      port,
      ...(ca ? { ca } : {}),
      ...(isIP(host) ? {} : { servername: host }),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      done(undefined);
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.end();
      done(undefined);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      done(e);
    });
  });
  if (!error || !FATAL.test(error.code ?? '')) return;
  const server = shownUrl(url);
  if (/^ERR_SSL_/.test(error.code ?? ''))
    throw new ConfigError(
      `the TLS handshake with Redis at ${server} failed (${error.code}: ${error.message}); is that port a TLS port (redis-server --tls-port)? Use redis:// for a plain one`,
      undefined,
      'executor.options.url',
    );
  throw new ConfigError(
    `the Redis server at ${server} presented a certificate that does not verify (${error.code}: ${error.message}); refusing to connect. Give the CA that signed it: executor.options.tls.ca (peftkit worker --tls-ca FILE), or NODE_EXTRA_CA_CERTS=FILE`,
    undefined,
    ca ? 'executor.options.tls.ca' : 'executor.options.url',
  );
}
