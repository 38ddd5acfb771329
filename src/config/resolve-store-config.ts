import { StoreConfigSchema, type StoreConfig, type StoreConfigInput } from './config-schema.ts';

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
