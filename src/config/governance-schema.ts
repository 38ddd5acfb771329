import { z } from 'zod';

/** The config's quotas (keys, teams, org, providers, routes, deployments), teams, budget alerts and the durable ledger. */

export const RateLimitConfigSchema = z.strictObject({
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
});

export const BudgetConfigSchema = z.strictObject({
  usd: z.number().positive(),
  period: z.enum(['day', 'week', 'month']).default('day'),
  /** Fraction of the budget past which requests are flagged `soft` (and moved to `softRoute` when set). */
  softThreshold: z.number().gt(0).max(1).default(0.8),
  /** Past the soft threshold, requests for a route run on this (cheaper) route instead. */
  softRoute: z.string().min(1).optional(),
});

export const QuotaSchema = z.strictObject({
  limits: RateLimitConfigSchema.optional(),
  budget: BudgetConfigSchema.optional(),
});

export const QuotasConfigSchema = z.strictObject({
  /** By key name (config keys and runtime keys alike). */
  keys: z.record(z.string(), QuotaSchema).default({}),
  teams: z.record(z.string(), QuotaSchema).default({}),
  /** By deployment (`provider/model`): the router skips a deployment whose limit is used up. */
  deployments: z.record(z.string(), RateLimitConfigSchema).default({}),
  /** Every request, whoever sends it: an organisation-wide budget and limits. */
  org: QuotaSchema.optional(),
  /**
   * By provider id: a budget line charged with what calls to that provider cost. Reserved on every provider
   * a request's route could use; a provider whose line is spent is dropped from the request's candidates.
   */
  providers: z.record(z.string(), z.strictObject({ budget: BudgetConfigSchema })).optional(),
  /** By route name: limits and budget of requests made on that route (not of models pinned by name). */
  routes: z.record(z.string(), QuotaSchema).optional(),
  /** Output tokens assumed for TPM and budget estimates when a request sets no maxOutputTokens. */
  defaultMaxOutputTokens: z.number().int().positive().default(1_024),
});

/** A team as an entity: its limits and budget, shared by every key with `team: <name>`. */
export const TeamConfigSchema = z.strictObject({
  name: z.string().min(1),
  limits: RateLimitConfigSchema.optional(),
  budget: BudgetConfigSchema.optional(),
});

/** Budget alerts (SOFT_THRESHOLD, EXHAUSTED, RESET) POSTed to a webhook, signed with `secret` (README: Keys, teams and budgets). */
export const AlertsConfigSchema = z.strictObject({
  webhookUrl: z.url(),
  /** HMAC-SHA256 key of the `X-Switchboard-Signature` header. */
  secret: z.string().min(16, 'the webhook secret is at least 16 characters'),
  /** Deliveries per event, the first included, with exponential backoff between them. */
  maxAttempts: z.number().int().positive().max(20).default(6),
  /** One delivery attempt's time limit. */
  timeoutMs: z.number().int().positive().default(5_000),
});

/** Integer milliseconds/counts with a message naming the field (the config error prefixes its path too). */
const ledgerInt = (field: string, min: number, max: number, unit: string) =>
  z
    .number({ error: `${field} must be a number (${unit})` })
    .int({ error: `${field} must be a whole number (${unit})` })
    .min(min, { error: `${field} must be at least ${min} (${unit})` })
    .max(max, { error: `${field} must be at most ${max} (${unit})` });

/**
 * The durable usage ledger: every usage event also goes, in batches, to PostgreSQL (`src/store/postgres-*.ts`),
 * for audits and for usage older than the store's rollups keep. Absent: the store's ledger only.
 */
export const LedgerConfigSchema = z.strictObject({
  kind: z.literal('postgres', { error: 'ledger.kind must be "postgres"' }),
  /** postgres://user:password@host:5432/db; the password is never logged (errors show the URL redacted). */
  url: z
    .string({ error: 'ledger.url must be a postgres:// URL' })
    // The value is never echoed: it may carry a password.
    .regex(/^postgres(?:ql)?:\/\/\S+$/i, { error: 'ledger.url must be a postgres:// or postgresql:// URL (value not shown: it may carry a password)' }),
  /** Events are written at least this often; a SIGKILL loses at most the events of the last interval. */
  flushIntervalMs: ledgerInt('ledger.flushIntervalMs', 10, 60_000, 'milliseconds').default(1_000),
  /** Events per INSERT (one multi-row statement per batch); a batch this size is written at once. */
  batchSize: ledgerInt('ledger.batchSize', 1, 10_000, 'events').default(500),
  /** Day partitions older than this are dropped. */
  retentionDays: ledgerInt('ledger.retentionDays', 1, 36_500, 'days').default(400),
  /** Events held in memory while PostgreSQL is unreachable; past it new events are dropped, counted and logged. */
  bufferCap: ledgerInt('ledger.bufferCap', 1, 10_000_000, 'events').default(50_000),
});
