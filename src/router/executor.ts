import { GatewayError, toGatewayError, type ErrorKind, type StreamPart } from '../core/index.ts';
import { fallbackAction } from './fallback-policy.ts';
import type { RoutePlan, Target } from './route-plan.ts';

export interface AttemptRecord {
  provider: string;
  model: string;
  status: 'ok' | 'error';
  errorKind?: ErrorKind | undefined;
  errorMessage?: string | undefined;
  latencyMs: number;
  /** How long the executor waited before this attempt (backoff or a provider's retry-after). */
  retryDelayMs?: number | undefined;
}

export interface ExecutorDeps {
  now: () => number;
  /** Waits, or rejects when the signal aborts. Tests inject a fake clock's sleep. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
}

export interface ExecuteOptions {
  maxAttempts: number;
  deadlineMs: number;
  signal?: AbortSignal | undefined;
  /** Backoff between rounds: full jitter over min(cap, base × 2^round). */
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

/** A call of one target for one attempt; `remainingMs` is what is left of the request's deadline. */
export type AttemptCall<T> = (target: Target, remainingMs: number, attempt: number) => Promise<T>;
export type AttemptStreamCall = (target: Target, remainingMs: number, attempt: number) => AsyncIterable<StreamPart>;

/** Events of a routed stream: the chosen target's parts, plus where each attempt went. */
export type RoutedStreamEvent =
  | StreamPart
  | { type: 'attempt'; target: Target; attempt: number }
  | { type: 'switch'; from: Target; to: Target; error: GatewayError }
  | { type: 'attempts'; attempts: AttemptRecord[] };

export class RoutingError extends GatewayError {
  readonly attempts: AttemptRecord[];
  constructor(base: GatewayError, attempts: AttemptRecord[], message = base.message) {
    super(base.kind, message, {
      retryable: base.retryable,
      retryAfterMs: base.retryAfterMs,
      provider: base.provider,
      status: base.status,
      providerCode: base.providerCode,
      param: base.param,
      partialText: base.partialText,
      cause: base.cause,
    });
    this.attempts = attempts;
  }
}

const key = (t: Target) => `${t.provider}\u0000${t.model}`;

/**
 * The attempt loop. It decides which target to try next from the error kind of the last attempt and
 * waits (backoff, retry-after) within the request's deadline; it performs no I/O itself.
 */
class AttemptState {
  readonly attempts: AttemptRecord[] = [];
  private readonly skipped = new Set<string>();
  private readonly notBefore = new Map<string, number>();
  private triedThisRound = new Set<string>();
  private minContext = 0;
  private round = 0;
  private readonly deadline: number;
  lastError: GatewayError | undefined;
  private readonly plan: RoutePlan;
  private readonly deps: ExecutorDeps;
  private readonly opts: ExecuteOptions;

  constructor(plan: RoutePlan, deps: ExecutorDeps, opts: ExecuteOptions) {
    this.plan = plan;
    this.deps = deps;
    this.opts = opts;
    this.deadline = deps.now() + opts.deadlineMs;
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - this.deps.now());
  }

  private eligible(t: Target): boolean {
    return !this.skipped.has(key(t)) && t.contextWindow > this.minContext;
  }

  /** The next target and how long to wait before calling it, or undefined when nothing is left. */
  async next(): Promise<{ target: Target; waitedMs: number } | undefined> {
    if (this.attempts.length >= this.opts.maxAttempts) return undefined;
    const now = this.deps.now();
    // An attempt that ran into the deadline is not followed by another with no time left.
    if (now >= this.deadline) return undefined;
    const left = this.plan.candidates.filter((t) => this.eligible(t));
    if (left.length === 0) return undefined;
    const notBefore = (t: Target) => this.notBefore.get(key(t)) ?? 0;
    const ready = left.find((t) => !this.triedThisRound.has(key(t)) && notBefore(t) <= now);
    if (ready) return { target: ready, waitedMs: 0 };
    // Nothing is ready: a target not tried this round becomes ready when its retry-after ends; one tried
    // this round, only after that and a backoff with full jitter (the next round). Wait for the earliest.
    const backoff = left.some((t) => this.triedThisRound.has(key(t)))
      ? this.deps.random() * Math.min(this.opts.backoffCapMs ?? 2_000, (this.opts.backoffBaseMs ?? 100) * 2 ** this.round)
      : 0;
    let best: { target: Target; at: number } | undefined;
    for (const t of left) {
      const at = this.triedThisRound.has(key(t)) ? Math.max(notBefore(t), now + backoff) : notBefore(t);
      if (!best || at < best.at) best = { target: t, at };
    }
    const wait = Math.max(0, best!.at - now);
    if (now + wait >= this.deadline) return undefined;
    if (wait > 0) await this.deps.sleep(wait, this.opts.signal);
    if (this.triedThisRound.has(key(best!.target))) {
      this.round++;
      this.triedThisRound = new Set();
    }
    return { target: best!.target, waitedMs: Math.round(wait) };
  }

  /** Records a failure; returns false when the error must go back to the caller at once. */
  fail(target: Target, err: GatewayError, latencyMs: number, waitedMs: number): boolean {
    this.attempts.push({
      provider: target.provider,
      model: target.model,
      status: 'error',
      errorKind: err.kind,
      errorMessage: err.message,
      latencyMs,
      ...(waitedMs > 0 && { retryDelayMs: waitedMs }),
    });
    this.lastError = err;
    this.triedThisRound.add(key(target));
    switch (fallbackAction(err.kind)) {
      case 'stop':
        return false;
      case 'next':
      case 'next-after':
        // A retry-after is honoured whatever the kind (an overloaded 503/529 may send one too).
        if (err.retryAfterMs !== undefined) this.notBefore.set(key(target), this.deps.now() + err.retryAfterMs);
        return true;
      case 'skip':
        this.skipped.add(key(target));
        return true;
      case 'larger-window':
        this.minContext = Math.max(this.minContext, target.contextWindow);
        return true;
    }
  }

  succeed(target: Target, latencyMs: number, waitedMs: number): void {
    this.attempts.push({
      provider: target.provider,
      model: target.model,
      status: 'ok',
      latencyMs,
      ...(waitedMs > 0 && { retryDelayMs: waitedMs }),
    });
  }

  finalError(): RoutingError {
    const base =
      this.lastError ??
      new GatewayError('unavailable', `route "${this.plan.route}": no target could be tried`);
    const summary = this.attempts.length > 1 ? ` (after ${this.attempts.length} attempts)` : '';
    return new RoutingError(base, this.attempts, `${base.message}${summary}`);
  }
}

/** Streams should never throw; one that does (or a call that throws) still ends in an error part. */
async function* guarded(open: () => AsyncIterable<StreamPart>, provider: string): AsyncGenerator<StreamPart> {
  try {
    yield* open();
  } catch (e) {
    yield { type: 'error', error: toGatewayError(e, provider) };
  }
}

export function createExecutor(deps: ExecutorDeps) {
  async function run<T>(plan: RoutePlan, call: AttemptCall<T>, opts: ExecuteOptions): Promise<{ value: T; target: Target; attempts: AttemptRecord[] }> {
    const state = new AttemptState(plan, deps, opts);
    for (;;) {
      if (opts.signal?.aborted) throw new RoutingError(new GatewayError('cancelled', 'request cancelled'), state.attempts);
      let pick: Awaited<ReturnType<AttemptState['next']>>;
      try {
        pick = await state.next();
      } catch {
        throw new RoutingError(new GatewayError('cancelled', 'request cancelled'), state.attempts);
      }
      if (!pick) throw state.finalError();
      const started = deps.now();
      try {
        const value = await call(pick.target, state.remainingMs(), state.attempts.length);
        state.succeed(pick.target, deps.now() - started, pick.waitedMs);
        return { value, target: pick.target, attempts: state.attempts };
      } catch (e) {
        // Once the caller has gone, whatever the attempt failed with is a consequence: report cancelled.
        const err = opts.signal?.aborted
          ? new GatewayError('cancelled', 'request cancelled', { provider: pick.target.provider, cause: e })
          : toGatewayError(e, pick.target.provider);
        if (!state.fail(pick.target, err, deps.now() - started, pick.waitedMs)) throw state.finalError();
      }
    }
  }

  /**
   * Streams through the plan. Before the first content part, a failed attempt is replaced by the next
   * target (a `switch` event marks it); after it, the stream ends with a typed error part carrying the
   * text already sent — never a silent truncation. Ends with an `attempts` event, then the terminal part.
   */
  async function* runStream(plan: RoutePlan, call: AttemptStreamCall, opts: ExecuteOptions): AsyncGenerator<RoutedStreamEvent> {
    const state = new AttemptState(plan, deps, opts);
    let previous: { target: Target; error: GatewayError } | undefined;
    for (;;) {
      let pick: Awaited<ReturnType<AttemptState['next']>>;
      try {
        pick = opts.signal?.aborted ? undefined : await state.next();
      } catch {
        pick = undefined;
      }
      if (!pick) {
        const err = opts.signal?.aborted ? new GatewayError('cancelled', 'request cancelled') : state.finalError();
        yield { type: 'attempts', attempts: state.attempts };
        yield { type: 'error', error: err };
        return;
      }
      const { target } = pick;
      if (previous) yield { type: 'switch', from: previous.target, to: target, error: previous.error };
      yield { type: 'attempt', target, attempt: state.attempts.length };
      const started = deps.now();
      let delivered = '';
      let sentContent = false;
      let failed: GatewayError | undefined;
      // Parts before the first content (`start`) wait until this attempt delivers something: a failed
      // attempt's parts never reach the client, so the events read attempt, (switch, attempt)*, parts.
      let held: StreamPart[] = [];
      for await (const part of guarded(() => call(target, state.remainingMs(), state.attempts.length), target.provider)) {
        if (part.type === 'error') {
          failed = part.error;
          break;
        }
        if (part.type === 'finish') {
          state.succeed(target, deps.now() - started, pick.waitedMs);
          yield* held;
          yield { type: 'attempts', attempts: state.attempts };
          yield part;
          return;
        }
        if (part.type === 'text-delta') delivered += part.text;
        if (part.type === 'text-delta' || part.type === 'tool-call-delta' || part.type === 'reasoning-delta') sentContent = true;
        if (!sentContent) {
          held.push(part);
          continue;
        }
        if (held.length > 0) {
          yield* held;
          held = [];
        }
        yield part;
      }
      failed ??= new GatewayError('invalid_response', `${target.provider}: stream ended without a terminal part`, { provider: target.provider });
      const goOn = state.fail(target, failed, deps.now() - started, pick.waitedMs);
      if (sentContent || !goOn) {
        // Content already reached the client: switching now would splice two answers silently.
        yield { type: 'attempts', attempts: state.attempts };
        yield { type: 'error', error: new RoutingError(failed.with({ partialText: delivered }), state.attempts) };
        return;
      }
      previous = { target, error: failed };
    }
  }

  return { run, runStream };
}

export type Executor = ReturnType<typeof createExecutor>;
