import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { assertNever } from '../core/index.ts';
import type { RedisTarget } from './redis-url.ts';

export type RedisClient = Redis | Cluster;

export interface ConnectionOptions {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Called on connection errors (already rate-limited to one per state change); never given the URL. */
  onError?: ((message: string) => void) | undefined;
}

/**
 * Reconnect forever with capped exponential backoff: the gateway must recover by itself when Redis comes
 * back, and meanwhile calls fail fast instead of queueing (enableOfflineQueue: false), so a Redis outage
 * costs each request one rejected promise, not a timeout.
 */
export function retryDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2_000);
}

function commonOptions(t: RedisTarget, o: ConnectionOptions, offlineQueue: boolean): RedisOptions {
  return {
    username: t.username,
    password: t.password,
    ...(t.tls && { tls: {} }),
    connectTimeout: o.connectTimeoutMs,
    // The subscriber holds a blocking-style connection with no replies to wait for.
    ...(!offlineQueue && { commandTimeout: o.commandTimeoutMs }),
    enableOfflineQueue: offlineQueue,
    // Commands in flight when the connection drops fail at once rather than wait for the reconnect.
    maxRetriesPerRequest: offlineQueue ? null : 0,
    retryStrategy: retryDelay,
    lazyConnect: false,
  };
}

/**
 * Two connections per store: commands, and a subscriber (a connection in subscribe mode can send nothing
 * else). The subscriber keeps an offline queue so its one SUBSCRIBE waits for the server instead of
 * failing, and ioredis re-subscribes after every reconnect.
 */
/**
 * ioredis, loaded on first use: a gateway on the memory store never connects to Redis, and loading the
 * library costs ~15 MiB of resident memory (the idle-RSS bar is 70 MiB). It is CommonJS, so a require
 * keeps connectRedis synchronous.
 */
let ioredis: typeof IORedis | undefined;
function lib(): typeof IORedis {
  ioredis ??= createRequire(import.meta.url)('ioredis') as typeof IORedis;
  return ioredis;
}

export function connectRedis(t: RedisTarget, o: ConnectionOptions): { client: RedisClient; subscriber: RedisClient } {
  const { Redis, Cluster } = lib();
  const make = (offlineQueue: boolean): RedisClient => {
    const common = commonOptions(t, o, offlineQueue);
    switch (t.mode) {
      case 'standalone':
        return new Redis({ ...common, host: t.host, port: t.port, db: t.db });
      case 'sentinel':
        return new Redis({
          ...common,
          sentinels: t.sentinels,
          name: t.masterName,
          db: t.db,
          sentinelPassword: t.sentinelPassword,
          sentinelRetryStrategy: retryDelay,
          ...(t.tls && { enableTLSForSentinelMode: true }),
        });
      case 'cluster': {
        const { retryStrategy: _r, enableOfflineQueue: _e, ...redisOptions } = common;
        const opts: ClusterOptions = {
          enableOfflineQueue: offlineQueue,
          clusterRetryStrategy: retryDelay,
          // Fail fast here too: by default a call to a slot whose master is down (CLUSTERDOWN, or its connection
          // closed) is retried every 100 ms up to 16 times, holding each request for ~1-2 s of a failover.
          retryDelayOnFailover: 0,
          retryDelayOnClusterDown: 0,
          redisOptions,
          slotsRefreshTimeout: o.connectTimeoutMs,
        };
        return new Cluster(t.nodes, opts);
      }
      default:
        return assertNever(t);
    }
  };
  const client = make(false);
  const subscriber = make(true);
  for (const c of [client, subscriber]) {
    let reported = false;
    // Without a listener ioredis prints every failed reconnect; report the first error of each outage.
    c.on('error', (e: Error) => {
      if (reported) return;
      reported = true;
      o.onError?.(`redis connection error: ${(e as NodeJS.ErrnoException).code ?? e.name}`);
    });
    c.on('ready', () => {
      reported = false;
    });
  }
  return { client, subscriber };
}
