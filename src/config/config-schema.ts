import { z } from 'zod';
import { CapabilitySchema } from '../core/index.ts';
import { PROVIDER_PROTOCOL_NAMES } from '../core/protocols.ts';
import { CREDENTIAL_TYPES, CredentialsSchema } from './credentials-schema.ts';
import type { BudgetConfigSchema, QuotaSchema, RateLimitConfigSchema } from './governance-schema.ts';
import { AlertsConfigSchema, LedgerConfigSchema, QuotasConfigSchema, TeamConfigSchema } from './governance-schema.ts';

export * from './credentials-schema.ts';
export * from './governance-schema.ts';

/**
 * The configuration file's schema (YAML or JSON). Field names are a contract with users' files:
 * rename nothing without an alias. Defaults live here so the running config is always complete.
 */

/** Protocols and the OpenAI-compatible presets over the openai adapter: the protocol table's names. */
export const PROVIDER_KINDS = PROVIDER_PROTOCOL_NAMES;

export const PriceSchema = z.strictObject({
  /** USD per 1M uncached input tokens. */
  input: z.number().nonnegative(),
  /** USD per 1M output tokens. */
  output: z.number().nonnegative(),
  /** USD per 1M cached input tokens read; defaults to `input`. */
  cachedInput: z.number().nonnegative().optional(),
  /** USD per 1M tokens written to a prompt cache; defaults to `input`. */
  cacheWrite: z.number().nonnegative().optional(),
  /** USD per 1M reasoning tokens; defaults to `output`. */
  reasoning: z.number().nonnegative().optional(),
});

export const ModelConfigSchema = z.strictObject({
  /** The id clients and routes use. */
  id: z.string().min(1),
  /** The provider's own name for the model when it differs from `id` (or an Azure deployment). */
  upstream: z.string().min(1).optional(),
  contextWindow: z.number().int().positive().default(128_000),
  maxOutputTokens: z.number().int().positive().optional(),
  price: PriceSchema.optional(),
  capabilities: z.array(CapabilitySchema).default([]),
});

export const TimeoutsSchema = z.strictObject({
  connectMs: z.number().int().positive().default(5_000),
  firstByteMs: z.number().int().positive().default(60_000),
  idleMs: z.number().int().positive().default(30_000),
  totalMs: z.number().int().positive().default(600_000),
  /**
   * Streaming, enforced by the router: longest wait for the first content part (text, tool call or
   * reasoning) of an attempt. A stall before it fails over invisibly. Unset: no router-level limit.
   */
  firstTokenMs: z.number().int().positive().optional(),
});

/**
 * Automatic prompt-cache breakpoints (Anthropic): after the system prompt's last block and after the last tool,
 * each only when the request marked none there itself, and only while the request stays within Anthropic's four.
 * Other protocols cache prefixes on their own and ignore it.
 */
export const PromptCacheSchema = z.strictObject({
  system: z.boolean().optional(),
  tools: z.boolean().optional(),
});

export const ProviderConfigSchema = z.strictObject({
  id: z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'ids are letters, digits, _, . or -'),
  protocol: z.enum(PROVIDER_KINDS),
  /** Optional for presets that have a well-known URL. */
  baseUrl: z.url().optional(),
  apiKey: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  timeouts: TimeoutsSchema.prefault({}),
  maxConnections: z.number().int().positive().optional(),
  /** Used where the protocol requires max tokens (Anthropic) and the request gave none. */
  defaultMaxOutputTokens: z.number().int().positive().default(4096),
  /** Protocol settings: Azure `apiVersion` / `deployments`, Anthropic `version` / `beta`. */
  options: z.record(z.string(), z.unknown()).optional(),
  /** Cache breakpoints the gateway places on this provider's requests; a route's `promptCache` keys win. */
  promptCache: PromptCacheSchema.optional(),
  /** Bedrock: the AWS region (the host and the signing scope). */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as us-east-1').optional(),
  /** Vertex AI: the Google Cloud project id and location (`global` or a region such as us-central1). */
  project: z.string().min(1).optional(),
  location: z.string().regex(/^[a-z0-9-]+$/, 'a location such as us-central1 or global').optional(),
  credentials: CredentialsSchema.optional(),
  models: z.array(ModelConfigSchema).min(1, 'a provider needs at least one model'),
}).superRefine((p, ctx) => {
  if (p.protocol === 'bedrock' && p.region === undefined) ctx.addIssue({ code: 'custom', path: ['region'], message: 'bedrock needs a region' });
  if (p.protocol === 'vertex' && p.project === undefined) ctx.addIssue({ code: 'custom', path: ['project'], message: 'vertex needs a project' });
  if (p.credentials !== undefined && p.apiKey !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['apiKey'], message: 'give apiKey or credentials, not both' });
  }
  if (p.credentials !== undefined && CREDENTIAL_TYPES[p.protocol] !== p.credentials.type) {
    const fits = CREDENTIAL_TYPES[p.protocol];
    ctx.addIssue({
      code: 'custom',
      path: ['credentials', 'type'],
      message: fits ? `${p.protocol} takes credentials of type "${fits}"` : `${p.protocol} takes no credentials block (use apiKey)`,
    });
  }
});

/** Conditions under which a route target is eligible (all that are set must hold). */
export const TargetWhenSchema = z.strictObject({
  /** The request's `task` is one of these. */
  task: z.array(z.string().min(1)).min(1).optional(),
  /** Estimated input tokens at least / at most this. */
  minInputTokens: z.number().int().nonnegative().optional(),
  maxInputTokens: z.number().int().positive().optional(),
  /** The request needs every one of these capabilities (e.g. route tool requests to a tool-strong model). */
  capabilities: z.array(CapabilitySchema).min(1).optional(),
  /** The request's metadata has each key with this value (or one of these values). */
  metadata: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).optional(),
});

export const RouteTargetSchema = z.strictObject({
  provider: z.string().min(1),
  model: z.string().min(1),
  weight: z.number().positive().default(1),
  when: TargetWhenSchema.optional(),
  /** What `quality: FAST | BEST` requests prefer; untiered targets count as balanced. */
  tier: z.enum(['fast', 'balanced', 'best']).optional(),
});

export const ROUTE_STRATEGIES = ['priority', 'weighted', 'least-latency', 'cheapest', 'cascade'] as const;

/** What a cascade step's answer must satisfy before it is accepted (every check that is set). */
export const ValidatorSchema = z.strictObject({
  /** The answer must parse as JSON and match this JSON Schema. A request's own json_schema is always checked too. */
  jsonSchema: z.record(z.string(), z.unknown()).optional(),
  /** The answer must not be empty (whitespace only counts as empty). */
  nonEmpty: z.boolean().default(true),
  /** The answer must match this regular expression (JavaScript syntax, unanchored). */
  regex: z
    .string()
    .optional()
    .refine((r) => {
      if (r === undefined) return true;
      try {
        new RegExp(r);
        return true;
      } catch {
        return false;
      }
    }, 'not a valid regular expression'),
  /** At most this many characters. */
  maxLength: z.number().int().positive().optional(),
  /** Reject answers that read as a refusal ("I can't help with that", …) or end with finish reason content_filter. */
  refusal: z.boolean().default(true),
});

export const RouteConfigSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_.:-]+$/, 'route names are letters, digits, _, ., : or -'),
  /**
   * priority: ordered fallback chain · weighted: random by weight · least-latency: power of two choices on
   * rolling p95 · cheapest: lowest expected cost · cascade: cheapest first, escalate when the validator fails.
   */
  strategy: z.enum(ROUTE_STRATEGIES).default('priority'),
  targets: z.array(RouteTargetSchema).min(1, 'a route needs at least one target'),
  /** Most attempts (across targets) for one request. */
  maxAttempts: z.number().int().positive().default(4),
  /** Whole-request deadline across attempts. */
  deadlineMs: z.number().int().positive().default(120_000),
  /** After the first token, continue a broken stream on the next target instead of ending with an error. */
  resumeStreams: z.boolean().default(false),
  /**
   * A prompt or answer blocked by a provider's content filter: `stop` answers with it (the default: another
   * model's policy is not a decision to make silently), `fallback` tries the next target. A streamed answer is
   * retried only while nothing of it has reached the client.
   */
  onContentFilter: z.enum(['stop', 'fallback']).default('stop'),
  /** Streaming stall detection by the router (override the providers' `timeouts.firstTokenMs`). */
  streamTimeouts: z
    .strictObject({
      /** Longest wait for an attempt's first content part; a stall fails over before the client sees anything. */
      firstTokenMs: z.number().int().positive().optional(),
      /** Longest silence between two parts once content flows. */
      idleMs: z.number().int().positive().optional(),
    })
    .optional(),
  /** Output tokens the cheapest/cascade strategies expect when a request sets no max tokens. */
  expectedOutputTokens: z.number().int().positive().default(256),
  /** cascade only: what each step's answer must satisfy. */
  validator: ValidatorSchema.optional(),
  /** Cache breakpoints on this route's requests; each key set here wins over the target provider's. */
  promptCache: PromptCacheSchema.optional(),
  /**
   * What a target does with a request parameter its protocol cannot honour (REST's OpenAI-only ones, e.g.
   * `logit_bias` on an Anthropic target): `refuse` (unset: the default) fails that attempt with
   * unsupported_feature, so the route tries its next target; `drop` sends the request without it and the REST
   * response lists it in `x-switchboard-dropped-params`.
   */
  unsupportedParams: z.enum(['refuse', 'drop']).optional(),
});

/** Circuit breakers, one per target (provider deployment × model), shared by every route using it. */
export const BreakerConfigSchema = z.strictObject({
  /** Open after this many failures in a row. */
  consecutiveFailures: z.number().int().positive().default(5),
  /** …or when failures / calls in the window reach this rate (with at least `minCalls` calls). */
  errorRate: z.number().gt(0).max(1).default(0.5),
  minCalls: z.number().int().positive().default(20),
  windowMs: z.number().int().positive().default(60_000),
  /** How long an open circuit skips the target before letting probes through (half-open). */
  cooldownMs: z.number().int().positive().default(30_000),
  /** Concurrent probe requests allowed while half-open; one success closes the circuit, one failure reopens it. */
  halfOpenProbes: z.number().int().positive().default(1),
  /** A target that answered 401 (bad key) is skipped by every request for this long. */
  authBrokenMs: z.number().int().positive().default(300_000),
});

export const RouterConfigSchema = z.strictObject({
  breaker: BreakerConfigSchema.prefault({}),
  /** The least-latency strategy's and Provider.health's rolling window. */
  latencyWindowMs: z.number().int().positive().default(300_000),
  /**
   * Longest a request waits (queueing included) for the tokenizer count made near a context window's
   * limit; past it routing goes on with the chars/4 estimate and the count is stopped.
   */
  tokenCountBudgetMs: z.number().int().positive().max(60_000).default(1_000),
});

export const KeyConfigSchema = z.strictObject({
  /** The secret clients send as `Authorization: Bearer <key>`. */
  key: z.string().min(16, 'keys are at least 16 characters'),
  name: z.string().min(1),
  scope: z.enum(['admin', 'client']).default('client'),
  /** Routes this key may use (all when absent); a client key sees only these in `route`/`routes`/`/v1/models`. */
  routes: z.array(z.string()).optional(),
  /**
   * Models (ids or `provider/model` deployments) this key may pin in `model`, chat and embeddings alike.
   * When absent: the targets of its `routes`, or everything when `routes` is absent too (gateway/access-rule.ts).
   */
  models: z.array(z.string()).optional(),
  team: z.string().optional(),
  user: z.string().optional(),
});

export const ServerConfigSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(4000),
  /** Largest request body accepted, in bytes (413 above it). */
  bodyLimitBytes: z.number().int().positive().default(4 * 1024 * 1024),
  /** How long shutdown waits for open streams before closing them. */
  shutdownGraceMs: z.number().int().nonnegative().default(10_000),
  /** Time a client has to send a request's headers (a silent or trickling connection gets 408 and is closed). */
  headersTimeoutMs: z.number().int().positive().default(10_000),
  /** Time a client has to send a whole request, headers and body; never limits how long the response takes. */
  bodyTimeoutMs: z.number().int().positive().default(30_000),
  /** How long an idle keep-alive connection stays open after a response. */
  keepAliveTimeoutMs: z.number().int().positive().default(65_000),
  /** Open connections (HTTP and WebSocket) above which new ones are closed at once. */
  maxConnections: z.number().int().positive().default(10_000),
  /**
   * One memory-reducing GC once listening (src/cli-settle-heap.ts): idle RSS about 8 MiB lower. The process then
   * runs in a smaller heap until load grows it: without the launchers' `--min-semi-space-size`, streams' time to
   * first token at p50 was 0.3 ms higher under light traffic (BENCHMARKS.md). `false` skips it.
   */
  releaseStartupMemory: z.boolean().default(true),
  cors: z
    .strictObject({
      /**
       * Browser origins besides the gateway's own (e.g. https://app.example.com) whose pages may call /graphql
       * and /v1/* (CORS, src/server/cors.ts) and open a graphql-ws WebSocket. Exact origins only: no wildcard.
       */
      origins: z.array(z.string().refine(isOrigin, 'expected an origin: scheme://host[:port], no path')).default([]),
      /** Sends `Access-Control-Allow-Credentials: true`, so those pages may send cookies (bearer keys need none). */
      credentials: z.boolean().default(false),
      /** How long a browser may reuse a preflight's answer (`Access-Control-Max-Age`; Chromium caps it at 2 h). */
      maxAgeSeconds: z.number().int().nonnegative().max(86_400).default(600),
    })
    .prefault({}),
  /** The web console at /console, served from console/dist (`npm run build:console`; `npm start` builds it when stale). */
  console: z
    .strictObject({
      enabled: z.boolean().default(true),
    })
    .prefault({}),
  /** GraphiQL at GET /graphql for browsers (HTML preferred, no query). Unset: on in local mode (no keys), off otherwise. */
  graphiql: z.boolean().optional(),
  graphql: z
    .strictObject({
      maxDepth: z.number().int().positive().default(12),
      maxComplexity: z.number().int().positive().default(2_000),
      introspection: z.boolean().default(true),
      /** Largest query text accepted, in bytes (413 PAYLOAD_TOO_LARGE above it). */
      maxDocumentBytes: z.number().int().positive().default(64 * 1024),
      /** Root fields one mutation may select: each createCompletion is a paid upstream call. */
      maxMutationFields: z.number().int().positive().default(10),
      /** Aliased fields one document may hold. */
      maxAliases: z.number().int().positive().default(100),
      /**
       * Load the GraphQL API at start-up. By default it loads on the first /graphql request or WebSocket (that
       * request waits ~0.2 s once), so a REST-only deployment never holds it in memory.
       */
      preload: z.boolean().default(false),
    })
    .prefault({}),
});

/** `https://app.example.com` or `http://localhost:3000`: what a browser sends as Origin (lower case, no path). */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

/** What a feature does when the store cannot answer: `open` serves the request unchecked, `closed` refuses it. */
export const FailureModeSchema = z.enum(['open', 'closed']);

export const FailurePolicySchema = z.strictObject({
  // Limits and budgets fail open by default so a Redis outage does not take the gateway down with it;
  // set `closed` where overspending is worse than refusing. The response cache is always bypassed.
  limits: FailureModeSchema.default('open'),
  budgets: FailureModeSchema.default('open'),
});

const storeCommon = {
  failure: FailurePolicySchema.prefault({}),
  /** Cached values longer than this are compressed (brotli). */
  compressAboveBytes: z.number().int().nonnegative().default(2048),
};

export const MemoryStoreConfigSchema = z.strictObject({
  kind: z.literal('memory'),
  ...storeCommon,
  /** LRU bounds of the response cache. */
  cacheMaxEntries: z.number().int().positive().default(10_000),
  cacheMaxBytes: z.number().int().positive().default(64 * 1024 * 1024),
});

export const RedisStoreConfigSchema = z.strictObject({
  kind: z.literal('redis'),
  ...storeCommon,
  /** redis://, rediss://, redis-sentinel://h:p,h:p/master, redis-cluster://h:p,h:p (see src/store/redis-url.ts). */
  url: z.string().min(1),
  /** Prepended to every key and channel, so several deployments can share one Redis. */
  prefix: z.string().min(1).regex(/^[^{}]*$/, 'must not contain { or } (Redis Cluster hash tags)').default('sb:'),
  connectTimeoutMs: z.number().int().positive().default(2_000),
  /** A command that gets no answer in this time fails (Redis hung, not down). */
  commandTimeoutMs: z.number().int().positive().default(1_000),
  /** How long router-state reads (circuit breakers, latency windows) are served from the local copy. */
  localCacheMs: z.number().int().nonnegative().default(1_000),
});

/** `memory` (one process, the default) or `redis` (shared by every instance); REDIS_URL selects redis when config leaves the default. */
export const StoreConfigSchema = z.discriminatedUnion('kind', [MemoryStoreConfigSchema, RedisStoreConfigSchema]);

export const CacheConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  defaultTtlSeconds: z.number().int().positive().default(3_600),
  /** Upper bound on a per-request `ttlSeconds`. */
  maxTtlSeconds: z.number().int().positive().default(7 * 86_400),
  /**
   * Per route, by name: its TTL, and `enabled: false` to leave its requests uncached unless one sends a
   * cache directive (embeddings and temperature-0 chat are cached by default).
   */
  routes: z.record(z.string(), z.strictObject({ ttlSeconds: z.number().int().positive().optional(), enabled: z.boolean().optional() })).default({}),
  /** How long an identical request waits for the one in flight before calling upstream itself. */
  coalesceWaitMs: z.number().int().positive().default(30_000),
  /** Who shares cached answers: everyone (`none`), callers of one team, or one key only. */
  partition: z.enum(['none', 'team', 'key']).default('none'),
});

export const IdempotencyConfigSchema = z.strictObject({
  /** How long a finished request's result is kept for replays of its Idempotency-Key. */
  ttlSeconds: z.number().int().positive().default(86_400),
  /** How long a replay waits for the first request with its key to finish. */
  waitMs: z.number().int().positive().default(60_000),
});

export const AuthConfigSchema = z.strictObject({
  /**
   * How long an instance trusts its local copy of a runtime key (createApiKey) before asking the store
   * again: a revocation on one instance is seen by the others within this time.
   */
  keyCacheTtlMs: z.number().int().positive().default(5_000),
});

export const ConfigSchema = z
  .strictObject({
    server: ServerConfigSchema.prefault({}),
    store: StoreConfigSchema.prefault({ kind: 'memory' }),
    providers: z.array(ProviderConfigSchema).min(1, 'configure at least one provider'),
    routes: z.array(RouteConfigSchema).default([]),
    router: RouterConfigSchema.prefault({}),
    keys: z.array(KeyConfigSchema).default([]),
    auth: AuthConfigSchema.prefault({}),
    cache: CacheConfigSchema.prefault({}),
    quotas: QuotasConfigSchema.prefault({}),
    /** Teams with limits and budgets (`quotas.teams` still works; an entry here wins over one there). */
    teams: z.array(TeamConfigSchema).default([]),
    alerts: AlertsConfigSchema.optional(),
    idempotency: IdempotencyConfigSchema.prefault({}),
    /** The durable usage ledger (PostgreSQL); absent: the store's ledger only. */
    ledger: LedgerConfigSchema.optional(),
    defaults: z
      .strictObject({
        /** The route used when a request names neither a route nor a model. */
        route: z.string().default('default'),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const providers = new Map<string, Set<string>>();
    cfg.providers.forEach((p, i) => {
      if (providers.has(p.id)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'id'], message: `duplicate provider id "${p.id}"` });
      const models = new Set<string>();
      p.models.forEach((m, j) => {
        if (models.has(m.id)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'models', j, 'id'], message: `duplicate model id "${m.id}" in provider "${p.id}"` });
        models.add(m.id);
        // A wildcard forwards the client's name as is and prices it from the built-in catalog, by name.
        if (m.id === '*' && m.upstream !== undefined) ctx.addIssue({ code: 'custom', path: ['providers', i, 'models', j, 'upstream'], message: 'a wildcard model forwards names as given: no upstream' });
        if (m.id === '*' && m.price !== undefined) ctx.addIssue({ code: 'custom', path: ['providers', i, 'models', j, 'price'], message: 'a wildcard model has no one price: declare the models you want priced by name beside it, or rely on the built-in catalog' });
      });
      providers.set(p.id, models);
    });
    const routes = new Set<string>();
    cfg.routes.forEach((r, i) => {
      if (routes.has(r.name)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'name'], message: `duplicate route "${r.name}"` });
      routes.add(r.name);
      r.targets.forEach((t, j) => {
        const models = providers.get(t.provider);
        if (!models) ctx.addIssue({ code: 'custom', path: ['routes', i, 'targets', j, 'provider'], message: `unknown provider "${t.provider}"` });
        else if (!models.has(t.model) && !models.has('*')) ctx.addIssue({ code: 'custom', path: ['routes', i, 'targets', j, 'model'], message: `provider "${t.provider}" has no model "${t.model}"` });
      });
    });
    const keys = new Set<string>();
    cfg.keys.forEach((k, i) => {
      if (keys.has(k.key)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'key'], message: 'duplicate key' });
      keys.add(k.key);
    });
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type ProviderConfig = z.infer<typeof ProviderConfigSchema>;
export type CredentialsConfig = z.infer<typeof CredentialsSchema>;
export type ModelConfig = z.infer<typeof ModelConfigSchema>;
export type RouteConfig = z.infer<typeof RouteConfigSchema>;
export type RouteConfigInput = z.input<typeof RouteConfigSchema>;
export type KeyConfig = z.infer<typeof KeyConfigSchema>;
export type Price = z.infer<typeof PriceSchema>;
export type RouteStrategy = RouteConfig['strategy'];
export type TargetWhen = z.infer<typeof TargetWhenSchema>;
export type ValidatorConfig = z.infer<typeof ValidatorSchema>;
export type BreakerConfig = z.infer<typeof BreakerConfigSchema>;
export type RouterConfig = z.infer<typeof RouterConfigSchema>;
export type FailureMode = z.infer<typeof FailureModeSchema>;
export type FailurePolicy = z.infer<typeof FailurePolicySchema>;
export type FailurePolicyInput = z.input<typeof FailurePolicySchema>;
export type StoreConfig = z.infer<typeof StoreConfigSchema>;
export type StoreConfigInput = z.input<typeof StoreConfigSchema>;
export type MemoryStoreConfig = z.infer<typeof MemoryStoreConfigSchema>;
export type RedisStoreConfig = z.infer<typeof RedisStoreConfigSchema>;
export type CacheConfig = z.infer<typeof CacheConfigSchema>;
export type CacheConfigInput = z.input<typeof CacheConfigSchema>;
export type RateLimitConfig = z.infer<typeof RateLimitConfigSchema>;
export type BudgetConfig = z.infer<typeof BudgetConfigSchema>;
export type Quota = z.infer<typeof QuotaSchema>;
export type QuotasConfig = z.infer<typeof QuotasConfigSchema>;
export type QuotasConfigInput = z.input<typeof QuotasConfigSchema>;
export type IdempotencyConfig = z.infer<typeof IdempotencyConfigSchema>;
export type TeamConfig = z.infer<typeof TeamConfigSchema>;
export type AlertsConfig = z.infer<typeof AlertsConfigSchema>;
export type AuthConfig = z.infer<typeof AuthConfigSchema>;
export type LedgerConfig = z.infer<typeof LedgerConfigSchema>;
