import { estimateInputTokens, GatewayError, type ChatRequest, type Completion } from '../core/index.ts';
import { isStoreUnavailable } from '../store/store-error.ts';
import { FailurePolicySchema, type FailurePolicyInput, type QuotasConfigInput } from '../config/index.ts';
import { configQuotas, createQuotaBook, type QuotaBook } from '../governance/quota-book.ts';
import { budgetLineOf, hasBudget, limitRulesOf, providerSubject, requestSubjects, type QuotaSubject } from '../governance/quota-subjects.ts';
import type { TeamLookup } from '../governance/team-directory.ts';
import type { BudgetLine, BudgetLineAlert, LimitRule, LimitState, Reservation, Store } from '../store/store.ts';
import type { PriceTable } from '../usage/pricing.ts';
import type { Stage } from './pipeline.ts';
import type { RequestContext } from './request-context.ts';
import { costAtUsd, ResolvedRequest } from './route-resolver.ts';

const MINUTE = 60_000;

export interface LimitsStageOptions {
  /** Config quotas (tests, and callers without a book); ignored when `quotaBook` is given. */
  quotas?: QuotasConfigInput | undefined;
  /** The config's quotas, read on every request: a config reload replaces what the book holds. */
  quotaBook?: QuotaBook | undefined;
  /** Runtime teams (upsertTeam), which win over config teams of the same name. */
  teams?: TeamLookup | undefined;
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
  /**
   * Past a budget's soft threshold: the resolution to run on instead, or undefined. `softRoute` is the one
   * the request's quotas name (a soft line's own first, else the key's, team's, …), when any does.
   */
  onSoftBudget?: (ctx: RequestContext, softRoute: string | undefined) => ResolvedRequest | undefined;
  /**
   * Alerts the store let this instance fire (each once per line and period across instances), with the
   * subject of each line. Called off the request's path: it must not throw or block.
   */
  onBudgetAlerts?: (alerts: readonly BudgetLineAlert[], subjectOf: (lineId: string) => QuotaSubject | undefined) => void;
  onStoreError?: (operation: string, error: unknown) => void;
}

/** The most a request can cost at `price`: estimated input tokens plus the most the model may write. */
export function estimateCostUsd(chat: ChatRequest, price: PriceTable, defaultMaxOutputTokens: number): number {
  return costAtUsd(estimateInputTokens(chat), chat.maxOutputTokens ?? defaultMaxOutputTokens, price);
}

/** OpenAI-style `x-ratelimit-*` headers from the tightest request and token rules of a request. */
const RATE_LIMIT_UNITS = [['rpm', 'requests'], ['tpm', 'tokens']] as const;

export function rateLimitHeaders(states: readonly LimitState[]): Record<string, string> {
  const headers: Record<string, string> = {};
  if (states.length === 0) return headers;
  for (const [suffix, unit] of RATE_LIMIT_UNITS) {
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
  /** Provider lines of the reservation, by provider id: only the provider that served is charged. */
  providerLines: Map<string, BudgetLine>;
  /** Every subject of the request by line id, for the alerts settling may fire. */
  subjects: Map<string, QuotaSubject>;
}

/** The resolution without the targets of `provider` (its budget is spent). */
function withoutProvider(r: ResolvedRequest, chat: ChatRequest, provider: string): ResolvedRequest {
  const targets = r.targets.filter((t) => t.provider !== provider);
  return new ResolvedRequest(chat, r.principal, r.kind, r.route, r.version, targets, r.namedRoute, r.namedModel);
}

/**
 * Rate limits (RPM/TPM) and USD budgets (per day, week or month) of every subject a request answers to: its
 * key (a runtime key's own quota, or config `quotas.keys`), its team (runtime or config), the organisation,
 * its route, and the providers it may go to. Before the call: take from every limit atomically (429
 * `rate_limited`), then reserve the estimated cost on every budget line at once (429 `budget_exceeded`).
 *
 * Providers: where a request goes is decided after admission (the router's plan, fallbacks), so the
 * estimate is reserved on the line of every provider its resolution could use. A provider whose line has no
 * room is dropped from the request's candidates and the reservation retried without it; only when no
 * candidate is left is the request refused. When it ends, the provider that served is charged the real
 * cost and the other providers' reservations are released. Each provider line thus never overspends by
 * more than one reservation, and a spent provider diverts traffic to the route's others instead of failing it.
 *
 * After: correct TPM by the real token count and settle the real cost (a cache hit costs 0); on failure
 * release the reservation. A request refused by a budget gives back what it took from the limits. When
 * the store is unreachable each feature follows its failure policy (open: run unchecked; closed: `unavailable`).
 */
export function limitsStage(store: Store, opts: LimitsStageOptions = {}): Stage {
  const book = opts.quotaBook ?? createQuotaBook(configQuotas(opts.quotas));
  const failure = FailurePolicySchema.parse(opts.failure ?? {});
  const now = opts.now ?? Date.now;
  const reservationTtlMs = opts.reservationTtlMs ?? 10 * MINUTE;
  const estimate = opts.estimateCostUsd ?? ((ctx: RequestContext) => ctx.resolved.maxCostUsd(book.current().defaultMaxOutputTokens));

  function alert(alerts: readonly BudgetLineAlert[], subjects: Map<string, QuotaSubject>): void {
    if (alerts.length === 0 || !opts.onBudgetAlerts) return;
    try {
      opts.onBudgetAlerts(alerts, (id) => subjects.get(id));
    } catch (e) {
      opts.onStoreError?.('budget alerts', e);
    }
  }

  function storeDown(ctx: RequestContext, feature: 'limits' | 'budgets', e: unknown): void {
    if (!isStoreUnavailable(e)) throw e;
    opts.onStoreError?.(feature, e);
    if (failure[feature] === 'closed') {
      throw new GatewayError('unavailable', `${feature === 'limits' ? 'rate limits' : 'budgets'} cannot be checked (store unavailable)`, { retryAfterMs: 1_000 });
    }
    ctx.markDegraded(feature);
  }

  function providerSubjects(ctx: RequestContext): QuotaSubject[] {
    const quotas = book.current();
    const seen = new Set<string>();
    const out: QuotaSubject[] = [];
    for (const t of ctx.resolved.targets) {
      if (seen.has(t.provider)) continue;
      seen.add(t.provider);
      const s = providerSubject(t.provider, quotas);
      if (s) out.push(s);
    }
    return out;
  }

  /** The soft route a soft request moves to: a soft line's subject's first, else the first any subject names. */
  function softRouteOf(subs: readonly QuotaSubject[], softLines: ReadonlySet<string>, lineOf: Map<QuotaSubject, BudgetLine>): string | undefined {
    const soft = subs.find((s) => s.budget?.softRoute && softLines.has(lineOf.get(s)?.id ?? ''));
    return (soft ?? subs.find((s) => s.budget?.softRoute))?.budget?.softRoute;
  }

  async function admit(ctx: RequestContext, subs: QuotaSubject[], providers: QuotaSubject[]): Promise<void> {
    const t = now();
    const quotas = book.current();
    // What the request can take from a TPM limit: its input (estimated) plus the most the model may write.
    const tokens = ctx.resolved.inputTokens + (ctx.request.chat.maxOutputTokens ?? quotas.defaultMaxOutputTokens);
    const rules = subs.flatMap((s) => limitRulesOf(s, tokens));
    const admission: Admission = { tpm: [], reservation: undefined, providerLines: new Map(), subjects: new Map() };
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
    const lineOf = new Map<QuotaSubject, BudgetLine>();
    for (const s of [...subs, ...providers]) {
      if (!hasBudget(s)) continue;
      const line = budgetLineOf(s, t);
      lineOf.set(s, line);
      admission.subjects.set(line.id, s);
    }
    if (lineOf.size === 0) {
      ctx.admission = admission;
      return;
    }
    let soft = false;
    const softLines = new Set<string>();
    let candidates = providers.filter((s) => lineOf.has(s));
    try {
      for (;;) {
        const lines = [...subs.filter((s) => lineOf.has(s)), ...candidates].map((s) => lineOf.get(s)!);
        const amount = Math.max(0, estimate(ctx) ?? 0);
        const r = await store.budgets.reserve(lines, amount, reservationTtlMs, t);
        alert(r.alerts, admission.subjects);
        ctx.budget = { soft: r.ok && r.soft, lines: r.lines };
        if (r.ok) {
          admission.reservation = r.reservation;
          for (const p of candidates) admission.providerLines.set(p.name, lineOf.get(p)!);
          soft = r.soft;
          for (const [s, line] of lineOf) {
            const state = r.lines.find((l) => l.id === line.id);
            if (state && s.budget && state.spentUsd + state.reservedUsd >= line.limitUsd * s.budget.softThreshold) softLines.add(line.id);
          }
          break;
        }
        const blocked = [...lineOf].find(([, l]) => l.id === r.blockedBy)!;
        const [subject, line] = blocked;
        const spentProvider = subject.kind === 'provider' && candidates.includes(subject);
        if (spentProvider) {
          // The provider's budget is spent: the request may still run on the route's other providers.
          ctx.resolved = withoutProvider(ctx.resolved, ctx.request.chat, subject.name);
          candidates = candidates.filter((c) => c !== subject);
        }
        if (!spentProvider || ctx.resolved.targets.length === 0) {
          await giveBack(rules, t);
          throw new GatewayError('budget_exceeded', `budget exceeded: ${line.id} (limit $${line.limitUsd})`, { retryAfterMs: Math.max(0, line.periodEndMs - t) });
        }
      }
    } catch (e) {
      if (e instanceof GatewayError && e.kind === 'budget_exceeded') throw e;
      storeDown(ctx, 'budgets', e);
    }
    if (soft && opts.onSoftBudget) {
      try {
        ctx.resolved = opts.onSoftBudget(ctx, softRouteOf([...subs, ...providers], softLines, lineOf)) ?? ctx.resolved;
      } catch (e) {
        // The key may not run on the soft route: the request fails, and gives back what it took.
        await settle(ctx, admission, undefined, false);
        throw e;
      }
    }
    ctx.admission = admission;
  }

  async function giveBack(rules: LimitRule[], t: number): Promise<void> {
    if (rules.length === 0) return;
    try {
      await store.limits.adjust(rules.map((r) => ({ key: r.key, windowMs: r.windowMs, delta: -r.cost })), t);
    } catch (e) {
      opts.onStoreError?.('limits adjust', e);
    }
  }

  /**
   * The reservation's lines split by who pays: every line but the providers', plus the line of the provider
   * that served (`provider`; charged even if it was not reserved, e.g. after a move to a soft route).
   */
  function split(a: Admission, provider: string | undefined): { charge: Reservation; release: Reservation } {
    const r = a.reservation!;
    const providerIds = new Set([...a.providerLines.values()].map((l) => l.id));
    const charge = r.lines.filter((l) => !providerIds.has(l.id));
    const release = r.lines.filter((l) => providerIds.has(l.id));
    if (provider !== undefined) {
      const served = a.providerLines.get(provider);
      if (served) {
        charge.push(served);
        release.splice(release.indexOf(served), 1);
      } else {
        const s = providerSubject(provider, book.current());
        if (s && hasBudget(s)) {
          const line = budgetLineOf(s, now());
          a.subjects.set(line.id, s);
          charge.push(line);
        }
      }
    }
    return { charge: { ...r, lines: charge }, release: { ...r, lines: release } };
  }

  /**
   * `completion` when it finished; otherwise whether output had started (then the upstream call cost
   * something we cannot know, and the estimate is kept rather than released).
   */
  async function settle(ctx: RequestContext, a: Admission, completion: Completion | undefined, outputStarted: boolean): Promise<void> {
    const t = now();
    const usedTokens = completion ? (completion.cached ? 0 : completion.usage.inputTokens + completion.usage.outputTokens) : undefined;
    const jobs: Promise<unknown>[] = [];
    if (a.tpm.length > 0 && (usedTokens !== undefined || !outputStarted)) {
      jobs.push(store.limits.adjust(a.tpm.map((r) => ({ key: r.key, windowMs: r.windowMs, delta: (usedTokens ?? 0) - r.cost })), t));
    }
    if (a.reservation) {
      if (completion !== undefined || outputStarted) {
        const { charge, release } = split(a, completion?.provider ?? ctx.target?.provider);
        // An unpriced model settles at 0: its cost is unknown, and budgets are in USD.
        const actual = completion ? (completion.cached ? 0 : (completion.costUsd ?? 0)) : a.reservation.amountUsd;
        jobs.push(store.budgets.settle(charge, actual, t).then((alerts) => alert(alerts, a.subjects)));
        if (release.lines.length > 0) jobs.push(store.budgets.release(release, t));
      } else {
        jobs.push(store.budgets.release(a.reservation, t));
      }
    }
    for (const r of await Promise.allSettled(jobs)) if (r.status === 'rejected') opts.onStoreError?.('limits settle', r.reason);
  }

  // Hooks return a promise only when there is work: a caller no limit or budget applies to awaits nothing here.
  return {
    name: 'limits',
    before(ctx) {
      const quotas = book.current();
      const p = ctx.request.principal;
      if (!quotas.any && p?.quota === undefined && (p?.team === undefined || !opts.teams?.get(p.team))) return undefined;
      const route = ctx.resolved.kind === 'route' ? ctx.resolved.route.name : undefined;
      const subs = requestSubjects(p, route, { quotas, teams: opts.teams });
      const providers = providerSubjects(ctx);
      return subs.length === 0 && providers.length === 0 ? undefined : admit(ctx, subs, providers);
    },
    done: (ctx, completion) => (ctx.admission ? settle(ctx, ctx.admission, completion, false) : undefined),
    // Output that reached the client (a delta, or an error's partial text) was paid for upstream.
    error: (ctx, f) => (ctx.admission ? settle(ctx, ctx.admission, undefined, ctx.firstOutputMs !== null || f.partialText !== '') : undefined),
  };
}
