import { afterAll, describe, expect, it } from 'vitest';
import { resolveStoreConfig } from '../../src/config/index.ts';
import { createStore } from '../../src/store/create-store.ts';
import type { Store } from '../../src/store/store.ts';
import { dropPrefix, rawRedis, redisStore, uniquePrefix } from './redis-harness.ts';
import { runStoreContract } from './store-contract.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';

const prefixes: string[] = [];
const prefixOf = new WeakMap<Store, string>();

afterAll(async () => {
  await Promise.all(prefixes.map(dropPrefix));
});

runStoreContract('redis', {
  async create() {
    const prefix = uniquePrefix('contract');
    prefixes.push(prefix);
    const s = redisStore(prefix, { compressAboveBytes: 1024, pollMs: 50 });
    prefixOf.set(s, prefix);
    await waitReady(s);
    return s;
  },
  async peer(s) {
    const p = redisStore(prefixOf.get(s)!, { compressAboveBytes: 1024, pollMs: 50 });
    prefixOf.set(p, prefixOf.get(s)!);
    await waitReady(p);
    return p;
  },
  advance: (ms) => new Promise((r) => setTimeout(r, ms)),
});

/** Commands fail fast until the connection is up (no offline queue); tests start once it is. */
async function waitReady(s: Store): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await s.readiness()).status === 'ready') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('redis not ready');
}

describe('redis store specifics', () => {
  it('compresses large cached values and never stores an API key secret', async () => {
    const prefix = uniquePrefix('specifics');
    prefixes.push(prefix);
    const s = redisStore(prefix, { compressAboveBytes: 1024 });
    await waitReady(s);
    const raw = rawRedis();
    try {
      const value = 'all work and no play makes jack a dull boy '.repeat(2000);
      await s.cache.set('big', value, 60_000);
      const stored = await raw.getBuffer(`${prefix}c:big`);
      expect(stored!.length).toBeLessThan(value.length / 10);
      expect(stored![0]).toBe(1);
      const { secret } = await s.apiKeys.create({ name: 'web' });
      const keys = await raw.keys(`${prefix}*`);
      for (const k of keys) {
        const type = await raw.type(k);
        const dump = type === 'hash' ? JSON.stringify(await raw.hgetall(k)) : type === 'string' ? ((await raw.get(k)) ?? '') : '';
        expect(dump).not.toContain(secret);
      }
    } finally {
      raw.disconnect();
      await s.close();
    }
  });

  it('keeps state only under its prefix', async () => {
    const prefix = uniquePrefix('isolation');
    prefixes.push(prefix);
    const a = redisStore(prefix);
    const b = redisStore(uniquePrefix('isolation-other'));
    await Promise.all([waitReady(a), waitReady(b)]);
    try {
      await a.cache.set('k', 'v', 60_000);
      expect(await b.cache.get('k')).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('createStore takes REDIS_URL when config leaves the default memory store', async () => {
    const s = createStore(resolveStoreConfig({ kind: 'memory' }, { REDIS_URL: `${TEST_REDIS.url}/0` }));
    const m = createStore(resolveStoreConfig(undefined, {}));
    try {
      expect(s.kind).toBe('redis');
      expect(m.kind).toBe('memory');
      await waitReady(s);
      await s.ping();
    } finally {
      await Promise.all([s.close(), m.close()]);
    }
  });

  it('a route change returns only once every other instance has applied it', async () => {
    const prefix = uniquePrefix('route-ack');
    prefixes.push(prefix);
    const a = redisStore(prefix);
    const others = [redisStore(prefix), redisStore(prefix)];
    await Promise.all([a, ...others].map(waitReady));
    // Each peer is subscribed (its subscriber connection is ready) before the change is published.
    await new Promise((r) => setTimeout(r, 50));
    const applied = others.map(() => [] as number[]);
    others.forEach((o, i) => o.routes.subscribe((c) => c.op !== 'resync' && applied[i]!.push(c.version)));
    try {
      for (let n = 0; n < 5; n++) {
        const version = await a.routes.upsert({ name: `r${n}`, targets: [{ provider: 'p', model: 'm' }] } as never);
        // Not "eventually": at the moment the mutation returns.
        for (const seen of applied) expect(seen).toContain(version);
      }
    } finally {
      await Promise.all([a, ...others].map((s) => s.close()));
    }
  });
});
