import { randomUUID } from 'node:crypto';
import { GatewayError, estimateInputTokens, type ChatRequest } from '../core/index.ts';
import { isStoreUnavailable } from '../store/store-error.ts';
import { FailurePolicySchema, QuotasConfigSchema, type FailurePolicyInput, type QuotasConfig, type QuotasConfigInput, type RateLimitConfig } from '../store/store-config.ts';
import type { BudgetLine, LimitRule, LimitState, Reservation, Store } from '../store/store.ts';
import type { PriceTable } from '../usage/pricing.ts';
import type { Completion, CompletionEvent } from './completion.ts';
import { markDegraded, type Handlers, type StoreRequest } from './handlers.ts';

const MINUTE = 60_000;

export interface WithLimitsOptions<R extends StoreRequest> {
  quotas?: QuotasConfigInput | undefined;
  failure?: FailurePolicyInput | undefined;
  /** Epoch ms: windows and budget periods are calendar-based and shared by every instance. */
  now?: () => number;
  /**
   * An upper estimate of the request's cost (input tokens + max output tokens at the dearest candidate's
   * price; see estimateCostUsd). Undefined/null reserves nothing: budgets then only stop a request once
   * spending already reached the limit.
   */
  estimateCostUsd?: (req: R) => number | null | undefined;
  /** A reservation not settled in this time (its instance died) stops counting. */
  reservationTtlMs?: number;
  /** Past a budget's soft threshold: the request to run instead (e.g. on a cheaper route), or undefined. */
  onSoftBudget?: (req: R) => R | undefined;
  newId?: () => string;
  onStoreError?: (operation: string, error: unknown) => void;
}

/** Input tokens (estimated) plus the most the model may write: what a request can take from a TPM limit. */
export function estimateRequestTokens(chat: ChatRequest, defaultMaxOutputTokens: number): number {
  return estimateInputTokens(chat) + (chat.maxOutputTokens ?? defaultMaxOutputTokens);
}

export function estimateCostUsd(chat: ChatRequest, price: PriceTable, defaultMaxOutputTokens: number): number {
  return (estimateInputTokens(chat) * price.input + (chat.maxOutputTokens ?? defaultMaxOutputTokens) * price.output) / 1e6;
}

function limitRules(subject: string, cfg: RateLimitConfig | undefined, tokens: number): LimitRule[] {
  const rules: LimitRule[] = [];
  if (cfg?.rpm !== undefined) rules.push({ key: `${subject}:rpm`, limit: cfg.rpm, windowMs: MINUTE, cost: 1 });
  if (cfg?.tpm !== undefined) rules.push({ key: `${subject}:tpm`, limit: cfg.tpm, windowMs: MINUTE, cost: Math.ceil(tokens) });
  return rules;
}

/** Rules of a provider deployment (`provider/model`), for the router to peek or consume before choosing it. */
export function deploymentRules(quotas: QuotasConfig, deployment: string, tokens: number): LimitRule[] {
  return limitRules(`dep:${deployment}`, quotas.deployments[deployment], tokens);
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

interface Admission<R> {
  req: R;
  tpm: LimitRule[];
  reservation: Reservation | undefined;
}

/**
 * Rate limits (RPM/TPM per key and team) and USD budgets (per key and team, per day or month) around
 * the gateway. Before the call: take from every limit atomically (429 `rate_limited` with retryAfterMs
 * when any is exhausted), then reserve the estimated cost on every budget (429 `budget_exceeded`).
 * After: correct TPM by the real token count and settle the real cost (a cache hit costs 0); on failure
 * release the reservation. A request refused by its budget gives back what it took from the limits.
 * When the store is unreachable each feature follows its failure policy (open: run unchecked; closed:
 * `unavailable`).
 */
export function withLimits<R extends StoreRequest>(store: Store, opts: WithLimitsOptions<R> = {}) {
  const quotas = QuotasConfigSchema.parse(opts.quotas ?? {});
  const failure = FailurePolicySchema.parse(opts.failure ?? {});
  const now = opts.now ?? Date.now;
  const reservationTtlMs = opts.reservationTtlMs ?? 10 * MINUTE;
  const newId = opts.newId ?? (() => `cmpl_${randomUUID().replaceAll('-', '')}`);

  function subjects(req: R): { subject: string; quota: QuotasConfig['keys'][string] }[] {
    const out: { subject: string; quota: QuotasConfig['keys'][string] }[] = [];
    const p = req.principal;
    if (p && quotas.keys[p.name]) out.push({ subject: `key:${p.name}`, quota: quotas.keys[p.name]! });
    if (p?.team !== undefined && quotas.teams[p.team]) out.push({ subject: `team:${p.team}`, quota: quotas.teams[p.team]! });
    return out;
  }

  function storeDown(req: R, feature: 'limits' | 'budgets', e: unknown): void {
    if (!isStoreUnavailable(e)) throw e;
    opts.onStoreError?.(feature, e);
    if (failure[feature] === 'closed') {
      throw new GatewayError('unavailable', `${feature === 'limits' ? 'rate limits' : 'budgets'} cannot be checked (store unavailable)`, { retryAfterMs: 1_000 });
    }
    markDegraded(req, feature);
  }

  async function admit(req: R): Promise<Admission<R>> {
    const t = now();
    const subs = subjects(req);
    const tokens = estimateRequestTokens(req.chat, quotas.defaultMaxOutputTokens);
    const rules = subs.flatMap((s) => limitRules(s.subject, s.quota.limits, tokens));
    let admission: Admission<R> = { req, tpm: [], reservation: undefined };
    if (rules.length > 0) {
      try {
        const decision = await store.limits.consume(rules, t);
        if (req.meta) req.meta.rateLimits = decision.rules;
        if (!decision.allowed) {
          const denied = decision.rules.filter((r) => !r.allowed);
          const worst = denied.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a));
          throw new GatewayError('rate_limited', `rate limit exceeded: ${denied.map((d) => `${d.key} (${d.limit}/min)`).join(', ')}`, {
            retryAfterMs: worst.retryAfterMs,
          });
        }
        admission = { ...admission, tpm: rules.filter((r) => r.key.endsWith(':tpm')) };
      } catch (e) {
        if (e instanceof GatewayError && e.kind === 'rate_limited') throw e;
        storeDown(req, 'limits', e);
      }
    }
    const lines: BudgetLine[] = subs.flatMap(({ subject, quota }) => {
      if (!quota.budget) return [];
      const p = period(quota.budget.period, t);
      return [{ id: `${subject}:${quota.budget.period}:${p.id}`, limitUsd: quota.budget.usd, periodEndMs: p.endMs, softThreshold: quota.budget.softThreshold }];
    });
    if (lines.length === 0) return admission;
    try {
      const amount = Math.max(0, opts.estimateCostUsd?.(req) ?? 0);
      const r = await store.budgets.reserve(lines, amount, reservationTtlMs, t);
      if (req.meta) req.meta.budget = { soft: r.ok && r.soft, lines: r.lines };
      if (!r.ok) {
        const line = lines.find((l) => l.id === r.blockedBy)!;
        await giveBack(rules, t);
        throw new GatewayError('budget_exceeded', `budget exceeded: ${line.id} (limit $${line.limitUsd})`, { retryAfterMs: Math.max(0, line.periodEndMs - t) });
      }
      admission = { ...admission, reservation: r.reservation };
      if (r.soft) admission = { ...admission, req: opts.onSoftBudget?.(req) ?? req };
    } catch (e) {
      if (e instanceof GatewayError && e.kind === 'budget_exceeded') throw e;
      storeDown(req, 'budgets', e);
    }
    return admission;
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
  async function settle(a: Admission<R>, completion: Completion | undefined, outputStarted: boolean): Promise<void> {
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

  return (next: Handlers<R>): Handlers<R> => {
    async function* limitedStream(req: R): AsyncGenerator<CompletionEvent> {
      let a: Admission<R>;
      try {
        a = await admit(req);
      } catch (e) {
        const error = e instanceof GatewayError ? e : new GatewayError('internal', String(e), { cause: e });
        yield { type: 'error', id: newId(), error, partialText: '', attempts: [] };
        return;
      }
      let settled = false;
      let started = false;
      try {
        for await (const ev of next.stream(a.req)) {
          if (ev.type === 'text-delta' || ev.type === 'tool-call-delta') started = true;
          if (ev.type === 'done' || ev.type === 'error') {
            settled = true;
            await settle(a, ev.type === 'done' ? ev.completion : undefined, started || (ev.type === 'error' && ev.partialText !== ''));
          }
          yield ev;
        }
      } finally {
        if (!settled) await settle(a, undefined, started);
      }
    }

    return {
      async complete(req) {
        // No limit or budget applies to this caller: admission and settlement would do nothing.
        if (subjects(req).length === 0) return next.complete(req);
        const a = await admit(req);
        let completion: Completion | undefined;
        try {
          completion = await next.complete(a.req);
          return completion;
        } finally {
          await settle(a, completion, false);
        }
      },

      stream(req): AsyncIterable<CompletionEvent> {
        // Nothing to admit or settle: the inner stream is handed through, without a generator layer of ours.
        return subjects(req).length === 0 ? next.stream(req) : limitedStream(req);
      },
    };
  };
}
