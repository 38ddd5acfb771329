/**
 * FAILOVER (kills masters): a Redis Cluster of three masters with one replica each (a cluster fails a master
 * over only to its own replica, so the failover case needs the replicas) loses, to SIGKILL, first the master
 * serving the rate limits' slot ({rl}), then the one serving the budgets' ({bg}), while store instances take
 * limits and budgets and a gateway process serves requests. cluster-node-timeout is 1 s. Measured as for
 * Sentinel: over-admission beyond the failure policy and the time until the store answers again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import type { Store } from '../../src/store/store.ts';
import { command, startCluster, until, type ClusterTopology } from '../helpers/redis-topologies.ts';
import { spawnGateway, writeConfig, type GatewayProcess } from '../integration/cluster.ts';
import { gatewayCachesAgain, gatewayConfig, gatewayTraffic, listenRoutes, runFailover } from './failover-load.ts';
import { storeFromUrl, uniqueTopologyPrefix, waitReady } from './topology-harness.ts';

const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
const KEY = 'failover-key-0123456789abcdef';
const LIMIT = 3_000;
const STORES = 2;
const CONCURRENCY = 4;

describe('FAILOVER: Redis Cluster promotes a replica when a master is SIGKILLed', () => {
  let topo: ClusterTopology;
  let sim: Simulator;
  let gateway: GatewayProcess;
  let cleanup: () => Promise<void> = async () => undefined;
  const stores: Store[] = [];
  const prefix = uniqueTopologyPrefix('failover');

  beforeAll(async () => {
    [topo, sim] = await Promise.all([startCluster({ password: PASSWORD, replicasPerMaster: 1, nodeTimeoutMs: 1_000 }), startSimulator({ protocol: 'openai', port: 0 })]);
    const config = await writeConfig(gatewayConfig(topo.url, sim.url, KEY, uniqueTopologyPrefix('gw')));
    cleanup = config.cleanup;
    gateway = await spawnGateway(config.path);
    // Each instance subscribes to a node of its own choosing (one of six, at random): add instances (the first
    // STORES also carry the load) until one listens on the master about to be killed, so its re-subscription is
    // tested too. Six are expected; 48 all missing it has odds of (5/6)^48 ≈ 1.6e-4.
    const victim = await topo.ownerOf('{rl}');
    const listening = async (port: number) => Number(((await command(port, PASSWORD, 'PUBSUB', 'NUMSUB', `${prefix}events`)) as [string, number])[1]);
    while (stores.length < STORES || (await listening(victim.port)) === 0) {
      if (stores.length >= 48) throw new Error('no instance subscribed to the {rl} master');
      const s = storeFromUrl(topo.url, prefix);
      stores.push(s);
      await waitReady(s);
      await until('the instance to subscribe', 10_000, async () => {
        let n = 0;
        for (const node of [...topo.masters, ...topo.replicas]) n += await listening(node.port);
        return n >= stores.length ? true : undefined;
      });
    }
  }, 40_000);

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await gateway?.stop();
    await sim?.close();
    await topo?.stop();
    await cleanup();
  });

  const read = async (key: string) => {
    const raw = topo.connect((await topo.ownerOf(key)).port);
    try {
      return await raw.get(key);
    } finally {
      raw.disconnect();
    }
  };

  /** Kills the master serving `tag`'s slot; promoted once another node serves it and the cluster is ok. */
  async function failover(label: string, tag: string, features: { limits: boolean; budgets: boolean }) {
    const victim = await topo.ownerOf(tag);
    const traffic = gatewayTraffic(gateway.url, KEY);
    const run = await runFailover({
      label,
      stores: stores.slice(0, STORES),
      prefix,
      concurrency: CONCURRENCY,
      limit: LIMIT,
      ...features,
      kill: () => victim.kill(),
      promoted: async () => {
        await topo.waitHealthy(tag, 500).catch(() => undefined);
        return (await topo.ownerOf(tag).catch(() => victim)) !== victim;
      },
      read,
    }).finally(() => traffic.stop());
    return { ...run, seen: await traffic.stop() };
  }

  it('rate limits ({rl} master killed): keeps serving, follows the new master, loses at most the unreplicated tail', async () => {
    const routes = listenRoutes(stores);
    const { stats, figures: f, seen } = await failover('cluster-rl', '{rl}', { limits: true, budgets: false });
    expect(stats.limitErrors).toBeGreaterThan(0);
    expect(stats.admittedAtKill).toBeLessThan(LIMIT);
    expect(f.counterOnNewMaster).toBeGreaterThanOrEqual(LIMIT);
    expect(f.overAdmission).toBeLessThan(stats.admittedAtKill / 10);
    expect(f.overAdmission).toBeGreaterThanOrEqual(-STORES * CONCURRENCY);
    expect(new Set(seen.statuses)).toEqual(new Set([200]));
    expect(gateway.child.exitCode).toBeNull();
    // Every instance hears route changes again, including those whose subscription was on the dead master.
    await routes.changeReachesAll('after-rl-failover');
    routes.close();
    console.log(`[failover figures] cluster-rl gateway: ${seen.statuses.length} requests, all 200, slowest ${seen.slowestMs} ms, cache states ${[...seen.cacheStates].join(',')}`);
  }, 60_000);

  it('budgets ({bg} master killed): keeps serving, follows the new master, loses at most the unreplicated tail', async () => {
    const { stats, figures: f, seen } = await failover('cluster-bg', '{bg}', { limits: false, budgets: true });
    expect(stats.budgetErrors).toBeGreaterThan(0);
    expect(f.lostSpendUsd).toBeLessThan(stats.settledUsd / 10);
    expect(new Set(seen.statuses)).toEqual(new Set([200]));
    expect(gateway.child.exitCode).toBeNull();
    await gatewayCachesAgain(gateway.url, KEY);
    console.log(`[failover figures] cluster-bg gateway: ${seen.statuses.length} requests, all 200, slowest ${seen.slowestMs} ms, cache states ${[...seen.cacheStates].join(',')}`);
  }, 60_000);
});
