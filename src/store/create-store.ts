import { assertNever } from '../core/index.ts';
import { createMemoryStore } from './memory-store.ts';
import { createRedisStore } from './redis-store.ts';
import { parseRedisUrl } from './redis-url.ts';
import type { Store } from './store.ts';

/**
 * Which backend and its settings, already validated and defaulted: config's `store:` section (see
 * `resolveStoreConfig` in src/config/, which also applies REDIS_URL) has this shape.
 */
export type StoreSettings =
  | { kind: 'memory'; compressAboveBytes: number; cacheMaxEntries: number; cacheMaxBytes: number }
  | {
      kind: 'redis';
      url: string;
      prefix: string;
      compressAboveBytes: number;
      connectTimeoutMs: number;
      commandTimeoutMs: number;
      localCacheMs: number;
    };

export interface CreateStoreDeps {
  /** Epoch ms; tests inject a fake clock (memory TTLs, record timestamps). */
  now?: () => number;
  /** Connection trouble, for the logger (never holds the URL). */
  onError?: (message: string) => void;
}

export function createStore(settings: StoreSettings, deps: CreateStoreDeps = {}): Store {
  switch (settings.kind) {
    case 'memory':
      return createMemoryStore({
        now: deps.now,
        compressAboveBytes: settings.compressAboveBytes,
        cacheMaxEntries: settings.cacheMaxEntries,
        cacheMaxBytes: settings.cacheMaxBytes,
      });
    case 'redis':
      return createRedisStore({
        target: parseRedisUrl(settings.url),
        prefix: settings.prefix,
        compressAboveBytes: settings.compressAboveBytes,
        connectTimeoutMs: settings.connectTimeoutMs,
        commandTimeoutMs: settings.commandTimeoutMs,
        localCacheMs: settings.localCacheMs,
        now: deps.now,
        onError: deps.onError,
      });
    default:
      return assertNever(settings);
  }
}
