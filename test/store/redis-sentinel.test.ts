/**
 * The store contract on a real Redis Sentinel deployment (one master, one replica, three sentinels, passwords on
 * both the data nodes and the sentinels), through the `redis-sentinel://` URL a user writes in config.
 * No failover here (see redis-sentinel-failover.test.ts): the sentinels wait 5 s before calling a master down.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSentinel, type SentinelTopology } from '../helpers/redis-topologies.ts';
import { runStoreContract } from './store-contract.ts';
import { storeFromUrl, uniqueTopologyPrefix, urlHarness, waitReady } from './topology-harness.ts';

// A test opens up to three stores, each of which may wait for its client's ready check (see waitReady).
vi.setConfig({ testTimeout: 60_000 });

const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
const SENTINEL_PASSWORD = `spw-${Math.random().toString(36).slice(2)}`;
let topo: SentinelTopology;

beforeAll(async () => {
  topo = await startSentinel({ password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
}, 30_000);
afterAll(async () => {
  await topo?.stop();
});

runStoreContract('redis sentinel', urlHarness({ url: () => topo.url, password: PASSWORD, dataPorts: () => [topo.master.port] }));

describe('redis sentinel specifics', () => {
  it('writes go to the master the sentinels name, and reach the replica', async () => {
    const prefix = uniqueTopologyPrefix('sentinel');
    const s = storeFromUrl(topo.url, prefix);
    const replica = topo.connect(topo.replica.port);
    try {
      await waitReady(s);
      expect(await topo.masterPort()).toBe(topo.master.port);
      await s.cache.set('k', 'v', 60_000);
      const ok = await s.limits.consume([{ key: 'r', limit: 5, windowMs: 60_000, cost: 1 }], Date.now());
      expect(ok.allowed).toBe(true);
      // Replication is asynchronous: poll the replica.
      for (let i = 0; i < 100 && (await replica.exists(`${prefix}c:k`)) === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await replica.exists(`${prefix}c:k`)).toBe(1);
    } finally {
      replica.disconnect();
      await s.close();
    }
  });

  it('a wrong password is reported as unavailable without echoing the URL or the password', async () => {
    const s = storeFromUrl(topo.url.replace(PASSWORD, 'wrong-password'), uniqueTopologyPrefix('badpw'), { connectTimeoutMs: 500 });
    try {
      const err = await s.ping().then(() => undefined, (e: Error) => e);
      expect(err).toMatchObject({ kind: 'unavailable' });
      const ready = await s.readiness();
      expect(ready.status).toBe('degraded');
      for (const text of [err!.message, ready.detail ?? '']) {
        expect(text).not.toContain('wrong-password');
        expect(text).not.toContain(SENTINEL_PASSWORD);
        expect(text).not.toContain('redis-sentinel://');
      }
    } finally {
      await s.close();
    }
  });
});
