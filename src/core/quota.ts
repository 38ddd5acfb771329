import { z } from 'zod';

/**
 * What a runtime key or team may spend and how fast: the shapes createApiKey, updateApiKey and upsertTeam
 * take and the store keeps. They mirror config's `quotas` entries (config-schema.ts RateLimitConfigSchema,
 * BudgetConfigSchema) so one limits stage applies both alike.
 */
export const BUDGET_PERIODS = ['day', 'week', 'month'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

export const QuotaLimitsSchema = z.strictObject({
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
});

export const QuotaBudgetSchema = z.strictObject({
  usd: z.number().positive(),
  period: z.enum(BUDGET_PERIODS).default('day'),
  /** Fraction of the budget past which requests are flagged `soft` (and moved to `softRoute` when set). */
  softThreshold: z.number().gt(0).max(1).default(0.8),
  softRoute: z.string().min(1).optional(),
});

export type QuotaLimits = z.infer<typeof QuotaLimitsSchema>;
export type QuotaBudget = z.infer<typeof QuotaBudgetSchema>;

/** A quota as the limits stage reads it, from config or from a runtime record. */
export interface Quota {
  limits?: QuotaLimits | undefined;
  budget?: QuotaBudget | undefined;
}

/** A runtime team (upsertTeam); a config team of the same name is overridden while it exists. */
export const TeamInputSchema = z.strictObject({
  name: z.string().min(1).max(200),
  limits: QuotaLimitsSchema.optional(),
  budget: QuotaBudgetSchema.optional(),
});

export const TeamRecordSchema = TeamInputSchema.extend({
  updatedAt: z.string(),
});

export type TeamInput = z.input<typeof TeamInputSchema>;
export type TeamRecord = z.infer<typeof TeamRecordSchema>;

/** Who a budget line or limit belongs to. */
export const BUDGET_SUBJECT_KINDS = ['key', 'team', 'org', 'provider', 'route'] as const;
export type BudgetSubjectKind = (typeof BUDGET_SUBJECT_KINDS)[number];

export const BUDGET_EVENT_KINDS = ['SOFT_THRESHOLD', 'EXHAUSTED', 'RESET'] as const;
export type BudgetEventKind = (typeof BUDGET_EVENT_KINDS)[number];

/**
 * A budget alert: fired once per line, period and kind across every instance (the store decides which
 * instance fires it). `id` is the same for every delivery of one alert, for receivers that deduplicate.
 */
export const BudgetEventSchema = z.object({
  id: z.string(),
  lineId: z.string(),
  subjectKind: z.enum(BUDGET_SUBJECT_KINDS),
  subject: z.string(),
  event: z.enum(BUDGET_EVENT_KINDS),
  spentUsd: z.number(),
  limitUsd: z.number(),
  at: z.string(),
});
export type BudgetEvent = z.infer<typeof BudgetEventSchema>;
