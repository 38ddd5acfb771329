import { assertNever } from '../core/index.ts';
import { createMemoryStore } from './memory-store.ts';
import { createRedisStore } from './redis-store.ts';
import { parseRedisUrl } from './redis-url.ts';
import { StoreConfigSchema, type StoreConfig, type StoreConfigInput } from './store-config.ts';
import type { Store } from './store.ts';

export interface CreateStoreDeps {
  /** For REDIS_URL; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Epoch ms; tests inject a fake clock (memory TTLs, record timestamps). */
  now?: () => number;
  /** Connection trouble, for the logger (never holds the URL). */
  onError?: (message: string) => void;
}

/**
 * The store config in effect: `store: { kind: redis, url }` from config, else REDIS_URL when config
 * leaves the default memory store, else memory. REDIS_URL does not override an explicit redis URL.
 */
export function resolveStoreConfig(input: StoreConfigInput | undefined, env: Record<string, string | undefined> = process.env): StoreConfig {
  const parsed = StoreConfigSchema.parse(input ?? { kind: 'memory' });
  const url = env.REDIS_URL?.trim();
  if (parsed.kind === 'memory' && url) {
    return StoreConfigSchema.parse({ kind: 'redis', url, failure: parsed.failure, compressAboveBytes: parsed.compressAboveBytes });
  }
  return parsed;
}

export function createStore(input: StoreConfigInput | undefined, deps: CreateStoreDeps = {}): Store {
  const config = resolveStoreConfig(input, deps.env ?? process.env);
  switch (config.kind) {
    case 'memory':
      return createMemoryStore({
        now: deps.now,
        compressAboveBytes: config.compressAboveBytes,
        cacheMaxEntries: config.cacheMaxEntries,
        cacheMaxBytes: config.cacheMaxBytes,
      });
    case 'redis':
      return createRedisStore({
        target: parseRedisUrl(config.url),
        prefix: config.prefix,
        compressAboveBytes: config.compressAboveBytes,
        connectTimeoutMs: config.connectTimeoutMs,
        commandTimeoutMs: config.commandTimeoutMs,
        localCacheMs: config.localCacheMs,
        now: deps.now,
        onError: deps.onError,
      });
    default:
      return assertNever(config);
  }
}
