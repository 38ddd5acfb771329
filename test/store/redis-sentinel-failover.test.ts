/**
 * FAILOVER (kills a master): a Redis Sentinel deployment loses its master to SIGKILL while store instances take
 * rate limits and budgets and a gateway process serves requests. The sentinels (down-after 1 s) promote the
 * replica; the store finds the new master by itself. Measured: over-admission beyond the failure policy (writes
 * acknowledged by the dead master but never replicated) and the time until the store answers again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import type { Store } from '../../src/store/store.ts';
import { startSentinel, type SentinelTopology } from '../helpers/redis-topologies.ts';
import { spawnGateway, writeConfig, type GatewayProcess } from '../integration/cluster.ts';
import { gatewayCachesAgain, gatewayConfig, gatewayTraffic, listenRoutes, runFailover } from './failover-load.ts';
import { storeFromUrl, uniqueTopologyPrefix, waitReady } from './topology-harness.ts';

const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
const KEY = 'failover-key-0123456789abcdef';
const LIMIT = 3_000;
const STORES = 2;
const CONCURRENCY = 4;

describe('FAILOVER: Redis Sentinel promotes the replica when the master is SIGKILLed', () => {
  let topo: SentinelTopology;
  let sim: Simulator;
  let gateway: GatewayProcess;
  let cleanup: () => Promise<void> = async () => undefined;
  const stores: Store[] = [];

  beforeAll(async () => {
    [topo, sim] = await Promise.all([startSentinel({ password: PASSWORD, downAfterMs: 1_000, failoverTimeoutMs: 3_000 }), startSimulator({ protocol: 'openai', port: 0 })]);
    const config = await writeConfig(gatewayConfig(topo.url, sim.url, KEY, uniqueTopologyPrefix('gw')));
    cleanup = config.cleanup;
    gateway = await spawnGateway(config.path);
  }, 40_000);

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await gateway?.stop();
    await sim?.close();
    await topo?.stop();
    await cleanup();
  });

  it('keeps serving, reconnects to the promoted replica, and loses at most the unreplicated tail', async () => {
    const prefix = uniqueTopologyPrefix('failover');
    for (let i = 0; i < STORES; i++) stores.push(storeFromUrl(topo.url, prefix));
    await Promise.all(stores.map((s) => waitReady(s)));
    const routes = listenRoutes(stores);
    const traffic = gatewayTraffic(gateway.url, KEY);
    const run = await runFailover({
      label: 'sentinel',
      stores,
      prefix,
      concurrency: CONCURRENCY,
      limit: LIMIT,
      kill: () => topo.master.kill(),
      promoted: async () => (await topo.masterPort()) === topo.replica.port,
      read: async (key) => {
        const raw = topo.connect(topo.replica.port);
        try {
          return await raw.get(key);
        } finally {
          raw.disconnect();
        }
      },
    }).finally(() => traffic.stop());
    const seen = await traffic.stop();
    const { stats, figures: f } = run;

    // The outage was seen (calls failed fast) and the store came back by itself, on the promoted replica.
    expect(stats.limitErrors + stats.budgetErrors).toBeGreaterThan(0);
    expect(stats.admittedAtKill).toBeLessThan(LIMIT);
    expect(f.counterOnNewMaster).toBeGreaterThanOrEqual(LIMIT);
    // Beyond the failure policy, only admissions the dead master acknowledged but had not replicated are
    // forgotten: far fewer than were admitted before the kill (replication on loopback lags by milliseconds).
    expect(f.overAdmission).toBeLessThan(stats.admittedAtKill / 10);
    expect(f.lostSpendUsd).toBeLessThan(stats.settledUsd / 10);
    // It can also be negative: a call applied and replicated whose reply the kill cut off counts as failed.
    expect(f.overAdmission).toBeGreaterThanOrEqual(-STORES * CONCURRENCY);

    // The gateway answered every request (the cache is bypassed while Redis is away) and is still running.
    expect(seen.statuses.length).toBeGreaterThan(0);
    expect(new Set(seen.statuses)).toEqual(new Set([200]));
    expect(seen.cacheStates).toContain('BYPASS');
    expect(gateway.child.exitCode).toBeNull();
    await gatewayCachesAgain(gateway.url, KEY);
    // Pub/sub is back too: each instance re-subscribed on the new master, was told to resync (changes may have
    // been missed while it was away), and hears the next change.
    await routes.changeReachesAll('after-failover');
    for (const l of routes.seen) expect(l.some((c) => c.op === 'resync')).toBe(true);
    routes.close();
    console.log(`[failover figures] sentinel gateway: ${seen.statuses.length} requests, all 200, slowest ${seen.slowestMs} ms, cache states ${[...seen.cacheStates].join(',')}`);
  }, 60_000);
});
