/**
 * Redis connections that outlive a Redis restart: commands wait while reconnecting (BullMQ's
 * workers need that), reconnects back off up to two seconds, and connection errors are reported
 * once per outage instead of once per attempt.
 */
import type { Logger } from '@peftkit/api';
import { Redis } from 'ioredis';
import { shownUrl } from './options.js';

export function connect(url: string, log: Logger, who: string, ca?: string): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    // A `rediss://` URL turns TLS on (ioredis does that from the scheme); `ca` verifies a private CA.
    ...(ca && url.startsWith('rediss:') ? { tls: { ca } } : {}),
  });
  let down = false;
  let lastError = '';
  redis.on('error', (e: Error) => {
    lastError = e.message;
  });
  redis.on('reconnecting', () => {
    if (down) return;
    down = true;
    log.warn(`${who}: lost Redis at ${shownUrl(url)}${lastError ? ` (${lastError})` : ''}; reconnecting`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    lastError = '';
    log.info(`${who}: reconnected to Redis at ${shownUrl(url)}`);
  });
  return redis;
}
