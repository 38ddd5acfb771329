import { assertNever, GatewayError, RoutingError, type AttemptRecord, type ErrorKind } from '../core/index.ts';
import type { BreakerOutcome, BreakerState } from './circuit-breaker.ts';
import { fallbackAction } from './fallback-policy.ts';
import type { LatencyWindow } from './latency-window.ts';
import { targetKey, type RoutePlan, type Target } from './route-plan.ts';

export interface ExecutorDeps {
  now: () => number;
  /** Waits, or rejects when the signal aborts. Tests inject a fake clock's sleep. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  /** Shared circuit breakers: open targets are skipped, every attempt's outcome is reported. */
  breakers?: BreakerState | undefined;
  /** Shared latency windows: every successful attempt's latency is recorded. */
  latency?: LatencyWindow | undefined;
  /** Schedules `fn` after `ms` (stream stall timeouts); returns a cancel. Defaults to setTimeout. */
  setTimer?: ((ms: number, fn: () => void) => () => void) | undefined;
}

/** What an attempt's error says about its target's health (see BreakerOutcome). */
export function breakerOutcomeOf(kind: ErrorKind): BreakerOutcome {
  switch (kind) {
    case 'overloaded':
    case 'unavailable':
    case 'timeout':
    case 'invalid_response':
      return 'failure';
    case 'auth':
    case 'provider_auth':
      return 'broken';
    case 'rate_limited':
    case 'forbidden':
    case 'not_found':
    case 'payload_too_large':
    case 'budget_exceeded':
    case 'context_length_exceeded':
    case 'invalid_request':
    case 'content_filter':
    case 'unsupported_feature':
    case 'cancelled':
    case 'shutting_down':
    case 'internal':
      return 'neutral';
    default:
      return assertNever(kind);
  }
}

export interface StateOptions {
  maxAttempts: number;
  deadlineMs: number;
  /** `fallback`: a content-filter error skips to the next target instead of answering at once (route `onContentFilter`). */
  onContentFilter?: 'stop' | 'fallback' | undefined;
  signal?: AbortSignal | undefined;
  backoffBaseMs?: number | undefined;
  backoffCapMs?: number | undefined;
}

/**
 * The attempt loop's bookkeeping. It decides which target to try next from the error kind of the last
 * attempt and waits (backoff, retry-after) within the request's deadline; it performs no I/O itself.
 * With breakers, a target is only called after `acquire` allowed it, and every such call is reported.
 */
/** A target to call next, after waiting `waitedMs` (0: at once). */
type Pick = { target: Target; waitedMs: number };

export class AttemptState {
  readonly attempts: AttemptRecord[] = [];
  // Made on first use: most requests succeed at their first attempt and never need them.
  private skipped: Set<string> | undefined;
  private notBefore: Map<string, number> | undefined;
  private triedThisRound: Set<string> | undefined;
  private minContext = 0;
  private round = 0;
  private readonly deadline: number;
  lastError: GatewayError | undefined;
  private readonly plan: RoutePlan;
  private readonly deps: ExecutorDeps;
  private readonly opts: StateOptions;

  constructor(plan: RoutePlan, deps: ExecutorDeps, opts: StateOptions) {
    this.plan = plan;
    this.deps = deps;
    this.opts = opts;
    this.deadline = deps.now() + opts.deadlineMs;
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - this.deps.now());
  }

  private eligible(t: Target): boolean {
    return t.contextWindow > this.minContext && !(this.skipped?.has(targetKey(t)) ?? false);
  }

  /**
   * The next target and how long to wait before calling it, or undefined when nothing is left. A plain
   * value when it is known at once (a request's first attempt, with a breaker that answers synchronously),
   * so that the common case runs no async function; a promise otherwise. Callers await it either way.
   */
  next(): Pick | undefined | Promise<Pick | undefined> {
    if (this.skipped !== undefined || this.notBefore !== undefined || this.triedThisRound !== undefined) return this.nextAfterFailures();
    if (this.attempts.length >= this.opts.maxAttempts || this.deps.now() >= this.deadline) return undefined;
    // Nothing has failed yet: the first candidate whose window is large enough, at once.
    const first = this.plan.candidates.find((t) => t.contextWindow > this.minContext);
    if (!first || !this.deps.breakers) return first && { target: first, waitedMs: 0 };
    const key = targetKey(first);
    const allowed = this.deps.breakers.acquire(key, this.deps.now());
    if (allowed === true) return { target: first, waitedMs: 0 };
    return this.afterRefusal(first, key, allowed);
  }

  /** The first pick's breaker refused it (or answers later): skip it when refused, and pick again. */
  private async afterRefusal(target: Target, key: string, allowed: boolean | Promise<boolean>): Promise<Pick | undefined> {
    if (await allowed) return { target, waitedMs: 0 };
    this.refused(target, key);
    return this.nextAfterFailures();
  }

  private refused(target: Target, key: string): void {
    // Opened since planning (another request's failures), or its half-open probe slot is taken.
    (this.skipped ??= new Set()).add(key);
    this.lastError ??= new GatewayError('unavailable', `${key}: circuit open`, { provider: target.provider });
  }

  private async nextAfterFailures(): Promise<Pick | undefined> {
    for (;;) {
      const pick = await this.pick();
      if (!pick || !this.deps.breakers) return pick;
      const key = targetKey(pick.target);
      if (await this.deps.breakers.acquire(key, this.deps.now())) return pick;
      this.refused(pick.target, key);
    }
  }

  private async pick(): Promise<Pick | undefined> {
    if (this.attempts.length >= this.opts.maxAttempts) return undefined;
    const now = this.deps.now();
    // An attempt that ran into the deadline is not followed by another with no time left.
    if (now >= this.deadline) return undefined;
    const left = this.plan.candidates.filter((t) => this.eligible(t));
    if (left.length === 0) return undefined;
    const notBefore = (t: Target) => this.notBefore?.get(targetKey(t)) ?? 0;
    const tried = (t: Target) => this.triedThisRound?.has(targetKey(t)) ?? false;
    const ready = left.find((t) => !tried(t) && notBefore(t) <= now);
    if (ready) return { target: ready, waitedMs: 0 };
    // Nothing is ready: a target not tried this round becomes ready when its retry-after ends; one tried
    // this round, only after that and a backoff with full jitter (the next round). Wait for the earliest.
    const backoff = left.some(tried)
      ? this.deps.random() * Math.min(this.opts.backoffCapMs ?? 2_000, (this.opts.backoffBaseMs ?? 100) * 2 ** this.round)
      : 0;
    let best: { target: Target; at: number } | undefined;
    for (const t of left) {
      const at = tried(t) ? Math.max(notBefore(t), now + backoff) : notBefore(t);
      if (!best || at < best.at) best = { target: t, at };
    }
    const wait = Math.max(0, best!.at - now);
    if (now + wait >= this.deadline) return undefined;
    if (wait > 0) await this.deps.sleep(wait, this.opts.signal);
    if (tried(best!.target)) {
      this.round++;
      this.triedThisRound = new Set();
    }
    return { target: best!.target, waitedMs: Math.round(wait) };
  }

  /** Records a failure; returns false when the error must go back to the caller at once. */
  fail(target: Target, err: GatewayError, latencyMs: number, waitedMs: number, extra: Partial<AttemptRecord> = {}): boolean {
    this.attempts.push({
      provider: target.provider,
      model: target.model,
      status: 'error',
      errorKind: err.kind,
      errorMessage: err.message,
      latencyMs,
      ...(waitedMs > 0 && { retryDelayMs: waitedMs }),
      ...extra,
    });
    this.lastError = err;
    const key = targetKey(target);
    (this.triedThisRound ??= new Set()).add(key);
    if (this.deps.breakers && extra.validationError === undefined) {
      const outcome = breakerOutcomeOf(err.kind);
      void this.deps.breakers.report(key, outcome, this.deps.now(), {
        reason: err.kind === 'auth' || err.kind === 'provider_auth' ? `authentication failed (${err.status ?? 'auth'})` : err.kind,
        ...(err.kind === 'rate_limited' && err.retryAfterMs !== undefined && { retryAfterMs: err.retryAfterMs }),
      });
    }
    const action = err.kind === 'content_filter' && this.opts.onContentFilter === 'fallback' ? 'skip' : fallbackAction(err.kind);
    switch (action) {
      case 'stop':
        return false;
      case 'next':
      case 'next-after':
        // A retry-after is honoured whatever the kind (an overloaded 503/529 may send one too).
        if (err.retryAfterMs !== undefined) (this.notBefore ??= new Map()).set(key, this.deps.now() + err.retryAfterMs);
        return true;
      case 'skip':
        (this.skipped ??= new Set()).add(key);
        return true;
      case 'larger-window':
        this.minContext = Math.max(this.minContext, target.contextWindow);
        return true;
    }
  }

  /** A target that answered but whose answer the cascade rejected: the next candidate, never this one again. */
  reject(target: Target, reason: string, latencyMs: number, waitedMs: number, extra: Partial<AttemptRecord> = {}, kind: 'invalid_response' | 'content_filter' = 'invalid_response'): void {
    this.report(target, 'success', latencyMs);
    const message = kind === 'content_filter' ? `${target.provider}: answer blocked by the content filter` : `answer rejected: ${reason}`;
    this.fail(target, new GatewayError(kind, message, { provider: target.provider }), latencyMs, waitedMs, { ...extra, validationError: reason });
    (this.skipped ??= new Set()).add(targetKey(target));
  }

  succeed(target: Target, latencyMs: number, waitedMs: number, extra: Partial<AttemptRecord> = {}, sampleMs = latencyMs): void {
    this.attempts.push({
      provider: target.provider,
      model: target.model,
      status: 'ok',
      latencyMs,
      ...(waitedMs > 0 && { retryDelayMs: waitedMs }),
      ...extra,
    });
    this.report(target, 'success', sampleMs);
  }

  /** Frees a breaker slot taken by `next` for an attempt that ended without a verdict (cancelled). */
  release(target: Target): void {
    if (this.deps.breakers) void this.deps.breakers.report(targetKey(target), 'neutral', this.deps.now());
  }

  private report(target: Target, outcome: 'success', sampleMs: number): void {
    const key = targetKey(target);
    const now = this.deps.now();
    if (this.deps.breakers) void this.deps.breakers.report(key, outcome, now);
    if (this.deps.latency) void this.deps.latency.record(key, sampleMs, now);
  }

  finalError(): RoutingError {
    const base =
      this.lastError ??
      new GatewayError('unavailable', `route "${this.plan.route}": no target could be tried`);
    const summary = this.attempts.length > 1 ? ` (after ${this.attempts.length} attempts)` : '';
    return new RoutingError(base, this.attempts, `${base.message}${summary}`);
  }
}
