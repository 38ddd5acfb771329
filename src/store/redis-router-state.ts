import type { RedisCommands } from './redis-commands.ts';
import type { RedisClient } from './redis-connection.ts';
import { BreakerRecordSchema, type BreakerRecord, type LatencySample, type RouterStateStore } from './store.ts';

/** Samples older than this are trimmed on every push; also the widest window readLatency can serve. */
const MAX_WINDOW_MS = 15 * 60_000;
const MAX_SAMPLES = 500;

/**
 * Circuit breakers (one hash, field per target) and latency windows (a sorted set per target, scored by
 * time). Reads are served from a local copy for `localCacheMs`, so the router asks Redis at most once
 * per target per interval however many requests it routes; an instance's own writes update its copy.
 */
export function createRedisRouterState(deps: { client: RedisClient; cmd: RedisCommands; prefix: string; localCacheMs: number }): RouterStateStore {
  const { client, cmd, prefix, localCacheMs } = deps;
  const breakersKey = `${prefix}{rs}:breakers`;
  const latKey = (target: string) => `${prefix}lat:${target}`;
  const breakerCache = new Map<string, { record: BreakerRecord | null; at: number }>();
  const latencyCache = new Map<string, { samples: LatencySample[]; at: number }>();
  const fresh = (at: number) => localCacheMs > 0 && performance.now() - at < localCacheMs;

  function decodeSample(member: string): LatencySample | undefined {
    const [at, ms, ok] = member.split(':');
    const sample = { atMs: Number(at), latencyMs: Number(ms), ok: ok === '1' };
    return Number.isFinite(sample.atMs) && Number.isFinite(sample.latencyMs) ? sample : undefined;
  }

  return {
    async getBreakers(targets) {
      const out = new Map<string, BreakerRecord>();
      const missing = targets.filter((t) => !fresh(breakerCache.get(t)?.at ?? -Infinity));
      if (missing.length > 0) {
        const values = await cmd.call('breakers get', () => client.hmget(breakersKey, ...missing));
        const at = performance.now();
        missing.forEach((t, i) => {
          const raw = values[i];
          let record: BreakerRecord | null = null;
          if (raw) {
            const parsed = BreakerRecordSchema.safeParse(JSON.parse(raw));
            record = parsed.success ? parsed.data : null;
          }
          breakerCache.set(t, { record, at });
        });
      }
      for (const t of targets) {
        const record = breakerCache.get(t)?.record;
        if (record) out.set(t, record);
      }
      return out;
    },
    async setBreaker(target, record) {
      const parsed = BreakerRecordSchema.parse(record);
      await cmd.call('breakers set', () => client.hset(breakersKey, target, JSON.stringify(parsed)));
      breakerCache.set(target, { record: parsed, at: performance.now() });
    },
    async pushLatency(target, sample) {
      const key = latKey(target);
      // The random suffix keeps two equal samples at the same millisecond from collapsing into one member.
      const member = `${sample.atMs}:${sample.latencyMs}:${sample.ok ? 1 : 0}:${Math.random().toString(36).slice(2, 8)}`;
      await cmd.call('latency push', () =>
        client
          .multi()
          .zadd(key, sample.atMs, member)
          .zremrangebyscore(key, '-inf', sample.atMs - MAX_WINDOW_MS)
          .zremrangebyrank(key, 0, -(MAX_SAMPLES + 1))
          .pexpire(key, MAX_WINDOW_MS)
          .exec(),
      );
      const cached = latencyCache.get(target);
      if (cached) cached.samples = [...cached.samples, { ...sample }].sort((a, b) => a.atMs - b.atMs);
    },
    async readLatency(target, sinceMs) {
      let cached = latencyCache.get(target);
      if (!cached || !fresh(cached.at)) {
        const members = await cmd.call('latency read', () => client.zrange(latKey(target), '0', '-1'));
        cached = { samples: members.map(decodeSample).filter((s): s is LatencySample => s !== undefined), at: performance.now() };
        latencyCache.set(target, cached);
      }
      return cached.samples.filter((s) => s.atMs >= sinceMs).map((s) => ({ ...s }));
    },
  };
}
