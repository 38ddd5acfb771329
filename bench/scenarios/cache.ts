/**
 * Cache hits: a temperature-0 request (cacheable by default) answered from the response cache, with the
 * memory store (the main gateway) and with Redis (a second gateway, `store: redis`, a prefix of its own;
 * BENCH_REDIS_URL), interleaved with the same request straight to the mock. Each gateway is primed first and
 * checked to answer `x-switchboard-cache: HIT`.
 */
import { preflight, type HttpTarget } from '../lib/clients.ts';
import { errorsOf, halfPhase, latencyAt, loadPhase, okJson, okJsonWithHeader, restTarget, type TargetName } from '../lib/phases.ts';
import { startExtra, stopExtra } from '../lib/servers.ts';
import type { Scenario } from './scenario.ts';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Deletes the keys of one Redis prefix (SCAN + UNLINK): the benchmark's own keys only. */
async function dropRedisPrefix(url: string, prefix: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  let n = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) n += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return n;
}

async function primeAndCheck(t: HttpTarget): Promise<void> {
  await preflight(t, okJson);
  await preflight(t, okJsonWithHeader('x-switchboard-cache', 'HIT'));
}

const notMeasured = (note: string) => ({ scenario: 'Cache hit (Redis store)', measure: 'latency p99', unit: 'ms' as const, bar: '≤ 2 ms', note: `not measured: ${note}` });

export const cache: Scenario = {
  name: 'cache',
  async run(b) {
    const { opts, servers: s } = b;
    b.log('Cache hit (memory store, Redis store)');
    const prefix = `sb-bench-${process.pid}-${Date.now()}:`;
    try {
      await startExtra(s, opts, { name: 'gateway-redis', process: 'gateway (Redis store)', config: { store: { kind: 'redis', url: REDIS_URL, prefix } } });
    } catch (e) {
      b.log(`  no Redis gateway (${(e as Error).message.split('\n')[0]}): Redis cache hit not measured`);
      b.rows.push(notMeasured(`no Redis at ${REDIS_URL}`));
    }
    try {
      const cacheBody = JSON.stringify({ model: 'default', temperature: 0, messages: [{ role: 'user', content: 'hi' }] });
      const targets: Array<{ key: string; target: TargetName; http: HttpTarget }> = [
        { key: 'direct', target: 'direct', http: { ...restTarget(s, 'direct'), body: JSON.stringify({ model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content: 'hi' }] }) } },
        { key: 'gateway memory', target: 'gateway', http: { ...restTarget(s, 'gateway'), body: cacheBody } },
        ...(s.extra ? [{ key: 'gateway redis', target: 'extra' as const, http: { ...restTarget(s, 'extra'), body: cacheBody } }] : []),
      ];
      await primeAndCheck(targets[1]!.http);
      if (targets[2]) {
        // Redis reachable at start-up but not serving hits (e.g. gone since): report it rather than fail the run.
        const problem = await primeAndCheck(targets[2].http).then(() => undefined, (e: Error) => e.message.split('\n')[0]);
        if (problem) {
          b.log(`  Redis gateway not serving cache hits (${problem}): Redis cache hit not measured`);
          b.rows.push(notMeasured(problem));
          targets.pop();
        }
      }
      const lat = await loadPhase(b, 'Cache hit @1 conn', targets, { connections: 1, rate: opts.rate }, halfPhase(opts, 2));
      const d = lat.direct!;
      for (const [key, scenario] of [['gateway memory', 'Cache hit (memory store)'], ['gateway redis', 'Cache hit (Redis store)']] as const) {
        const g = lat[key];
        if (!g) continue;
        for (const p of ['p50', 'p99'] as const) {
          const redisBar = key === 'gateway redis' && p === 'p99';
          b.rows.push({
            scenario,
            measure: `latency ${p} ${latencyAt(opts)}`,
            unit: 'ms',
            direct: d.latency[p],
            gateway: g.latency[p],
            addedGateway: g.latency[p] - d.latency[p],
            ...(redisBar && { bar: '≤ 2 ms (end to end)', meets: g.latency[p] <= 2 }),
            note: `direct = the mock answering; ${errorsOf(g) ? `${errorsOf(g)} errors` : 'every answer a HIT (checked first)'}`,
          });
        }
      }
    } finally {
      await stopExtra(s);
      const dropped = await dropRedisPrefix(REDIS_URL, prefix).catch(() => 0);
      if (dropped > 0) b.log(`  removed ${dropped} Redis keys under ${prefix}`);
    }
  },
};
