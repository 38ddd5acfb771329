import { estimateInputTokens, GatewayError, type ChatRequest, type Completion } from '../core/index.ts';
import { isStoreUnavailable } from '../store/store-error.ts';
import { FailurePolicySchema, QuotasConfigSchema, type FailurePolicyInput, type QuotasConfig, type QuotasConfigInput, type RateLimitConfig } from '../config/index.ts';
import type { BudgetLine, LimitRule, LimitState, Reservation, Store } from '../store/store.ts';
import type { PriceTable } from '../usage/pricing.ts';
import type { Stage } from './pipeline.ts';
import type { RequestContext } from './request-context.ts';
import { costAtUsd, type ResolvedRequest } from './route-resolver.ts';

const MINUTE = 60_000;

export interface LimitsStageOptions {
  quotas?: QuotasConfigInput | undefined;
  failure?: FailurePolicyInput | undefined;
  /** Epoch ms: windows and budget periods are calendar-based and shared by every instance. */
  now?: () => number;
  /**
   * An upper estimate of the request's cost; by default the resolved request's (input tokens + max
   * output tokens at the dearest priced candidate). null reserves nothing: budgets then only stop a
   * request once spending already reached the limit.
   */
  estimateCostUsd?: (ctx: RequestContext) => number | null | undefined;
  /** A reservation not settled in this time (its instance died) stops counting. */
  reservationTtlMs?: number;
  /** Past a budget's soft threshold: the resolution to run on instead (e.g. a cheaper route), or undefined. */
  onSoftBudget?: (ctx: RequestContext) => ResolvedRequest | undefined;
  onStoreError?: (operation: string, error: unknown) => void;
}

/** The most a request can cost at `price`: estimated input tokens plus the most the model may write. */
export function estimateCostUsd(chat: ChatRequest, price: PriceTable, defaultMaxOutputTokens: number): number {
  return costAtUsd(estimateInputTokens(chat), chat.maxOutputTokens ?? defaultMaxOutputTokens, price);
}

function limitRules(subject: string, cfg: RateLimitConfig | undefined, tokens: number): LimitRule[] {
  const rules: LimitRule[] = [];
  if (cfg?.rpm !== undefined) rules.push({ key: `${subject}:rpm`, limit: cfg.rpm, windowMs: MINUTE, cost: 1 });
  if (cfg?.tpm !== undefined) rules.push({ key: `${subject}:tpm`, limit: cfg.tpm, windowMs: MINUTE, cost: Math.ceil(tokens) });
  return rules;
}

function period(kind: 'day' | 'month', nowMs: number): { id: string; endMs: number } {
  const d = new Date(nowMs);
  if (kind === 'day') {
    return { id: d.toISOString().slice(0, 10), endMs: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) };
  }
  return { id: d.toISOString().slice(0, 7), endMs: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/** OpenAI-style `x-ratelimit-*` headers from the tightest request and token rules of a request. */
export function rateLimitHeaders(states: readonly LimitState[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [suffix, unit] of [['rpm', 'requests'], ['tpm', 'tokens']] as const) {
    const tightest = states.filter((s) => s.key.endsWith(`:${suffix}`)).sort((a, b) => a.remaining - b.remaining)[0];
    if (!tightest) continue;
    headers[`x-ratelimit-limit-${unit}`] = String(tightest.limit);
    headers[`x-ratelimit-remaining-${unit}`] = String(tightest.remaining);
    headers[`x-ratelimit-reset-${unit}`] = `${Math.ceil(tightest.resetMs / 1000)}s`;
  }
  return headers;
}

/** What a request took when it was admitted, to correct or give back when it ends. */
export interface Admission {
  tpm: LimitRule[];
  reservation: Reservation | undefined;
}

type Subject = { subject: string; quota: QuotasConfig['keys'][string] };

/**
 * Rate limits (RPM/TPM per key and team) and USD budgets (per key and team, per day or month). Before
 * the call: take from every limit atomically (429 `rate_limited` with retryAfterMs when any is
 * exhausted), then reserve the estimated cost on every budget (429 `budget_exceeded`). After: correct TPM
 * by the real token count and settle the real cost (a cache hit costs 0); on failure release the
 * reservation. A request refused by its budget gives back what it took from the limits. When the store
 * is unreachable each feature follows its failure policy (open: run unchecked; closed: `unavailable`).
 */
export function limitsStage(store: Store, opts: LimitsStageOptions = {}): Stage {
  const quotas = QuotasConfigSchema.parse(opts.quotas ?? {});
  const failure = FailurePolicySchema.parse(opts.failure ?? {});
  const now = opts.now ?? Date.now;
  const reservationTtlMs = opts.reservationTtlMs ?? 10 * MINUTE;
  const estimate = opts.estimateCostUsd ?? ((ctx: RequestContext) => ctx.resolved.maxCostUsd(quotas.defaultMaxOutputTokens));
  const limited = Object.keys(quotas.keys).length > 0 || Object.keys(quotas.teams).length > 0;

  function subjects(ctx: RequestContext): Subject[] {
    const out: Subject[] = [];
    const p = ctx.request.principal;
    if (p && quotas.keys[p.name]) out.push({ subject: `key:${p.name}`, quota: quotas.keys[p.name]! });
    if (p?.team !== undefined && quotas.teams[p.team]) out.push({ subject: `team:${p.team}`, quota: quotas.teams[p.team]! });
    return out;
  }

  function storeDown(ctx: RequestContext, feature: 'limits' | 'budgets', e: unknown): void {
    if (!isStoreUnavailable(e)) throw e;
    opts.onStoreError?.(feature, e);
    if (failure[feature] === 'closed') {
      throw new GatewayError('unavailable', `${feature === 'limits' ? 'rate limits' : 'budgets'} cannot be checked (store unavailable)`, { retryAfterMs: 1_000 });
    }
    ctx.markDegraded(feature);
  }

  async function admit(ctx: RequestContext, subs: Subject[]): Promise<void> {
    const t = now();
    // What the request can take from a TPM limit: its input (estimated) plus the most the model may write.
    const tokens = ctx.resolved.inputTokens + (ctx.request.chat.maxOutputTokens ?? quotas.defaultMaxOutputTokens);
    const rules = subs.flatMap((s) => limitRules(s.subject, s.quota.limits, tokens));
    const admission: Admission = { tpm: [], reservation: undefined };
    if (rules.length > 0) {
      try {
        const decision = await store.limits.consume(rules, t);
        ctx.rateLimits = decision.rules;
        if (!decision.allowed) {
          const denied = decision.rules.filter((r) => !r.allowed);
          const worst = denied.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a));
          throw new GatewayError('rate_limited', `rate limit exceeded: ${denied.map((d) => `${d.key} (${d.limit}/min)`).join(', ')}`, {
            retryAfterMs: worst.retryAfterMs,
          });
        }
        admission.tpm = rules.filter((r) => r.key.endsWith(':tpm'));
      } catch (e) {
        if (e instanceof GatewayError && e.kind === 'rate_limited') throw e;
        storeDown(ctx, 'limits', e);
      }
    }
    const lines: BudgetLine[] = subs.flatMap(({ subject, quota }) => {
      if (!quota.budget) return [];
      const p = period(quota.budget.period, t);
      return [{ id: `${subject}:${quota.budget.period}:${p.id}`, limitUsd: quota.budget.usd, periodEndMs: p.endMs, softThreshold: quota.budget.softThreshold }];
    });
    if (lines.length === 0) {
      ctx.admission = admission;
      return;
    }
    let soft = false;
    try {
      const amount = Math.max(0, estimate(ctx) ?? 0);
      const r = await store.budgets.reserve(lines, amount, reservationTtlMs, t);
      ctx.budget = { soft: r.ok && r.soft, lines: r.lines };
      if (!r.ok) {
        const line = lines.find((l) => l.id === r.blockedBy)!;
        await giveBack(rules, t);
        throw new GatewayError('budget_exceeded', `budget exceeded: ${line.id} (limit $${line.limitUsd})`, { retryAfterMs: Math.max(0, line.periodEndMs - t) });
      }
      admission.reservation = r.reservation;
      soft = r.soft;
    } catch (e) {
      if (e instanceof GatewayError && e.kind === 'budget_exceeded') throw e;
      storeDown(ctx, 'budgets', e);
    }
    if (soft && opts.onSoftBudget) {
      try {
        ctx.resolved = opts.onSoftBudget(ctx) ?? ctx.resolved;
      } catch (e) {
        // The key may not run on the soft route: the request fails, and gives back what it took.
        await settle(admission, undefined, false);
        throw e;
      }
    }
    ctx.admission = admission;
  }

  async function giveBack(rules: LimitRule[], t: number): Promise<void> {
    try {
      await store.limits.adjust(rules.map((r) => ({ key: r.key, windowMs: r.windowMs, delta: -r.cost })), t);
    } catch (e) {
      opts.onStoreError?.('limits adjust', e);
    }
  }

  /**
   * `completion` when it finished; otherwise whether output had started (then the upstream call cost
   * something we cannot know, and the estimate is kept rather than released).
   */
  async function settle(a: Admission, completion: Completion | undefined, outputStarted: boolean): Promise<void> {
    const t = now();
    const usedTokens = completion ? (completion.cached ? 0 : completion.usage.inputTokens + completion.usage.outputTokens) : undefined;
    const jobs: Promise<unknown>[] = [];
    if (a.tpm.length > 0 && (usedTokens !== undefined || !outputStarted)) {
      jobs.push(store.limits.adjust(a.tpm.map((r) => ({ key: r.key, windowMs: r.windowMs, delta: (usedTokens ?? 0) - r.cost })), t));
    }
    if (a.reservation) {
      // An unpriced model settles at 0: its cost is unknown, and budgets are in USD.
      if (completion) jobs.push(store.budgets.settle(a.reservation, completion.cached ? 0 : (completion.costUsd ?? 0), t));
      else if (outputStarted) jobs.push(store.budgets.settle(a.reservation, a.reservation.amountUsd, t));
      else jobs.push(store.budgets.release(a.reservation, t));
    }
    for (const r of await Promise.allSettled(jobs)) if (r.status === 'rejected') opts.onStoreError?.('limits settle', r.reason);
  }

  // Hooks return a promise only when there is work: a caller no limit or budget applies to awaits nothing here.
  return {
    name: 'limits',
    before(ctx) {
      if (!limited) return undefined;
      const subs = subjects(ctx);
      return subs.length === 0 ? undefined : admit(ctx, subs);
    },
    done: (ctx, completion) => (ctx.admission ? settle(ctx.admission, completion, false) : undefined),
    // Output that reached the client (a delta, or an error's partial text) was paid for upstream.
    error: (ctx, f) => (ctx.admission ? settle(ctx.admission, undefined, ctx.firstOutputMs !== null || f.partialText !== '') : undefined),
  };
}
