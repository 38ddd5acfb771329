import { z } from 'zod';

/**
 * Config of the store and of the features built on it. Written to be merged into src/config/config-schema.ts
 * (`store:` replaces today's StoreConfigSchema; `quotas:` and `cache:` are new top-level keys).
 */

/** What a feature does when the store cannot answer: `open` serves the request unchecked, `closed` refuses it. */
export const FailureModeSchema = z.enum(['open', 'closed']);

export const FailurePolicySchema = z.strictObject({
  // Limits and budgets fail open by default so a Redis outage does not take the gateway down with it;
  // set `closed` where overspending is worse than refusing.
  limits: FailureModeSchema.default('open'),
  budgets: FailureModeSchema.default('open'),
});

const common = {
  failure: FailurePolicySchema.prefault({}),
  /** Cached values longer than this are compressed (brotli). */
  compressAboveBytes: z.number().int().nonnegative().default(2048),
};

export const MemoryStoreConfigSchema = z.strictObject({
  kind: z.literal('memory'),
  ...common,
  /** LRU bounds of the response cache. */
  cacheMaxEntries: z.number().int().positive().default(10_000),
  cacheMaxBytes: z.number().int().positive().default(64 * 1024 * 1024),
});

export const RedisStoreConfigSchema = z.strictObject({
  kind: z.literal('redis'),
  ...common,
  /** redis://, rediss://, redis-sentinel://h:p,h:p/master, redis-cluster://h:p,h:p (see redis-url.ts). */
  url: z.string().min(1),
  /** Prepended to every key and channel, so several deployments can share one Redis. */
  prefix: z.string().min(1).regex(/^[^{}]*$/, 'must not contain { or } (Redis Cluster hash tags)').default('sb:'),
  connectTimeoutMs: z.number().int().positive().default(2_000),
  /** A command that gets no answer in this time fails (Redis hung, not down). */
  commandTimeoutMs: z.number().int().positive().default(1_000),
  /** How long router-state reads are served from the local copy. */
  localCacheMs: z.number().int().nonnegative().default(1_000),
});

export const StoreConfigSchema = z.discriminatedUnion('kind', [MemoryStoreConfigSchema, RedisStoreConfigSchema]);

export const CacheConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  defaultTtlSeconds: z.number().int().positive().default(3_600),
  /** Upper bound on a per-request `ttlSeconds`. */
  maxTtlSeconds: z.number().int().positive().default(7 * 86_400),
  /** Per-route TTL, by route name. */
  routes: z.record(z.string(), z.strictObject({ ttlSeconds: z.number().int().positive() })).default({}),
  /** How long an identical request waits for the one in flight before calling upstream itself. */
  coalesceWaitMs: z.number().int().positive().default(30_000),
});

export const RateLimitConfigSchema = z.strictObject({
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
});

export const BudgetConfigSchema = z.strictObject({
  usd: z.number().positive(),
  period: z.enum(['day', 'month']).default('day'),
  /** Fraction of the budget past which requests are flagged `soft` (a router may pick a cheaper route). */
  softThreshold: z.number().gt(0).max(1).default(0.8),
});

export const QuotaSchema = z.strictObject({
  limits: RateLimitConfigSchema.optional(),
  budget: BudgetConfigSchema.optional(),
});

export const QuotasConfigSchema = z.strictObject({
  /** By key name (config keys and runtime keys alike). */
  keys: z.record(z.string(), QuotaSchema).default({}),
  teams: z.record(z.string(), QuotaSchema).default({}),
  /** By deployment (`provider/model`): limits the router checks before choosing a target. */
  deployments: z.record(z.string(), RateLimitConfigSchema).default({}),
  /** Output tokens assumed for TPM and budget estimates when a request sets no maxOutputTokens. */
  defaultMaxOutputTokens: z.number().int().positive().default(1_024),
});

export type FailureMode = z.infer<typeof FailureModeSchema>;
export type FailurePolicy = z.infer<typeof FailurePolicySchema>;
export type StoreConfig = z.infer<typeof StoreConfigSchema>;
export type StoreConfigInput = z.input<typeof StoreConfigSchema>;
export type MemoryStoreConfig = z.infer<typeof MemoryStoreConfigSchema>;
export type RedisStoreConfig = z.infer<typeof RedisStoreConfigSchema>;
export type CacheConfig = z.infer<typeof CacheConfigSchema>;
export type RateLimitConfig = z.infer<typeof RateLimitConfigSchema>;
export type BudgetConfig = z.infer<typeof BudgetConfigSchema>;
export type Quota = z.infer<typeof QuotaSchema>;
export type QuotasConfig = z.infer<typeof QuotasConfigSchema>;
export type QuotasConfigInput = z.input<typeof QuotasConfigSchema>;
export type CacheConfigInput = z.input<typeof CacheConfigSchema>;
export type FailurePolicyInput = z.input<typeof FailurePolicySchema>;
