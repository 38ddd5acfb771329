import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRedisStore, type RedisStoreOptions } from '../../src/store/redis-store.ts';
import type { Store } from '../../src/store/store.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';

export const REDIS_URL = TEST_REDIS.url;

/** A key prefix no other test run (or engineer) uses, so tests flush only their own keys. */
export function uniquePrefix(label: string): string {
  return `sbtest:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

export function redisStore(prefix: string, extra: Partial<RedisStoreOptions> = {}): Store {
  return createRedisStore({ target: { mode: 'standalone', host: TEST_REDIS.host, port: TEST_REDIS.port, db: 0, tls: false }, prefix, ...extra });
}

/** Deletes every key under the prefix (SCAN, never FLUSH: the server is shared). */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { lazyConnect: false });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export function rawRedis(): Redis {
  return new Redis(REDIS_URL);
}
