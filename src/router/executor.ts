import { GatewayError, RoutingError, toGatewayError, type AttemptRecord, type StreamPart, type Usage } from '../core/index.ts';
import { AttemptState, type ExecutorDeps, type StateOptions } from './attempt-state.ts';
import type { RoutePlan, Target } from './route-plan.ts';

export type { ExecutorDeps } from './attempt-state.ts';

export interface ExecuteOptions extends StateOptions {
  maxAttempts: number;
  deadlineMs: number;
  signal?: AbortSignal | undefined;
  /** Backoff between rounds: full jitter over min(cap, base × 2^round). */
  backoffBaseMs?: number | undefined;
  backoffCapMs?: number | undefined;
}

export interface RunOptions<T> extends ExecuteOptions {
  /**
   * Cascade: judges an answer; a reason rejects it and the next candidate is asked (the rejected step
   * stays in `attempts` with its cost). When every candidate's answer is rejected the run fails with
   * invalid_response — an answer that failed validation is never passed off as a good one.
   */
  validate?: ((value: T, target: Target) => string | undefined) | undefined;
  /** Facts about an attempt that answered (its cost). */
  annotate?: ((value: T, target: Target) => Partial<AttemptRecord>) | undefined;
  /** Whether an answer was cut by the provider's content filter: with `onContentFilter: fallback` the next target is asked. */
  contentFiltered?: ((value: T) => boolean) | undefined;
}

export interface StreamOptions extends ExecuteOptions {
  /** Longest wait for an attempt's first content part: a stall fails over before the client sees anything. */
  firstTokenMs?: ((t: Target) => number | undefined) | undefined;
  /** Longest wait between two parts once content flows. */
  idleMs?: ((t: Target) => number | undefined) | undefined;
  /** After content reached the client, continue a broken stream on the next target (see AttemptStreamCall). */
  resume?: boolean | undefined;
  /** The USD cost of a finished attempt's usage (null: unpriced). */
  costOf?: ((t: Target, usage: Usage) => number | null) | undefined;
}

/** A call of one target for one attempt; `remainingMs` is what is left of the request's deadline. */
export type AttemptCall<T> = (target: Target, remainingMs: number, attempt: number, signal?: AbortSignal) => Promise<T>;
/**
 * One streamed attempt. `signal` aborts this attempt only (a stall timeout) or the whole request.
 * `resume` is set when the attempt continues a stream that broke after `partialText` reached the client:
 * the call must ask the target to continue that text, and stream only the continuation.
 */
export type AttemptStreamCall = (
  target: Target,
  remainingMs: number,
  attempt: number,
  signal?: AbortSignal,
  resume?: { partialText: string },
) => AsyncIterable<StreamPart>;

/** Events of a routed stream: the chosen target's parts, plus where each attempt went. */
export type RoutedStreamEvent =
  | StreamPart
  | { type: 'attempt'; target: Target; attempt: number }
  /** `resumed`: the stream continues on `to` after content from `from` already reached the client. */
  | { type: 'switch'; from: Target; to: Target; error: GatewayError; resumed?: boolean }
  | { type: 'attempts'; attempts: AttemptRecord[] };

/**
 * An attempt's parts. Streams should never throw; one that does (or a call that throws) still ends in an
 * error part: the loop below catches what `next()` throws, so no generator layer is spent on it here.
 */
function openAttempt(open: () => AsyncIterable<StreamPart>, provider: string): AsyncIterator<StreamPart> {
  try {
    return open()[Symbol.asyncIterator]();
  } catch (e) {
    const error = toGatewayError(e, provider);
    return (async function* (): AsyncGenerator<StreamPart> {
      yield { type: 'error', error };
    })();
  }
}

const defaultTimer = (ms: number, fn: () => void): (() => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/** An AbortController for one attempt that also fires when the request's signal does. */
function attemptController(parent: AbortSignal | undefined): { ac: AbortController; detach: () => void } {
  const ac = new AbortController();
  if (!parent) return { ac, detach: () => undefined };
  const onAbort = () => ac.abort(parent.reason);
  if (parent.aborted) ac.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  return { ac, detach: () => parent.removeEventListener('abort', onAbort) };
}

const isContent = (p: StreamPart) => p.type === 'text-delta' || p.type === 'tool-call-delta' || p.type === 'reasoning-delta';

export function createExecutor(deps: ExecutorDeps) {
  const setTimer = deps.setTimer ?? defaultTimer;

  /** The iterator's next part, or a timeout error when none arrives within `ms`. */
  function nextWithin(it: AsyncIterator<StreamPart>, ms: number | undefined, timeout: () => GatewayError): Promise<IteratorResult<StreamPart> | GatewayError> {
    if (ms === undefined) return it.next();
    return new Promise((resolve, reject) => {
      let settled = false;
      const cancel = setTimer(ms, () => {
        if (!settled) {
          settled = true;
          resolve(timeout());
        }
      });
      it.next().then(
        (r) => {
          if (!settled) {
            settled = true;
            cancel();
            resolve(r);
          }
        },
        (e: unknown) => {
          if (!settled) {
            settled = true;
            cancel();
            reject(e);
          }
        },
      );
    });
  }

  async function run<T>(plan: RoutePlan, call: AttemptCall<T>, opts: RunOptions<T>): Promise<{ value: T; target: Target; attempts: AttemptRecord[] }> {
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
      let value: T;
      try {
        value = await call(pick.target, state.remainingMs(), state.attempts.length, opts.signal);
      } catch (e) {
        // Once the caller has gone, whatever the attempt failed with is a consequence: report cancelled.
        const err = opts.signal?.aborted
          ? new GatewayError('cancelled', 'request cancelled', { provider: pick.target.provider, cause: e })
          : toGatewayError(e, pick.target.provider);
        if (!state.fail(pick.target, err, deps.now() - started, pick.waitedMs)) throw state.finalError();
        continue;
      }
      const latencyMs = deps.now() - started;
      const extra = opts.annotate?.(value, pick.target) ?? {};
      if (opts.onContentFilter === 'fallback' && opts.contentFiltered?.(value)) {
        state.reject(pick.target, 'content_filter', latencyMs, pick.waitedMs, extra, 'content_filter');
        continue;
      }
      const rejected = opts.validate?.(value, pick.target);
      if (rejected !== undefined) {
        state.reject(pick.target, rejected, latencyMs, pick.waitedMs, extra);
        continue;
      }
      state.succeed(pick.target, latencyMs, pick.waitedMs, extra);
      return { value, target: pick.target, attempts: state.attempts };
    }
  }

  /**
   * Streams through the plan. Before the first content part, a failed or stalled attempt is replaced by
   * the next target (a `switch` event marks it; the client sees nothing of the failed attempt). After
   * it, the stream ends with a typed error part carrying the text already sent — never a silent
   * truncation — unless `resume` is set: then the next target continues from that text (a `switch` with
   * `resumed`) and its parts are spliced on. A tool-call fragment already sent cannot be continued, so
   * it always ends with the typed error. Ends with an `attempts` event, then the terminal part.
   */
  async function* runStream(plan: RoutePlan, call: AttemptStreamCall, opts: StreamOptions): AsyncGenerator<RoutedStreamEvent> {
    const state = new AttemptState(plan, deps, opts);
    let previous: { target: Target; error: GatewayError } | undefined;
    let delivered = '';
    let contentSent = false;
    let toolSent = false;
    for (;;) {
      let pick: Awaited<ReturnType<AttemptState['next']>>;
      try {
        pick = opts.signal?.aborted ? undefined : await state.next();
      } catch {
        pick = undefined;
      }
      if (!pick) {
        const base = opts.signal?.aborted ? new GatewayError('cancelled', 'request cancelled') : state.finalError();
        yield { type: 'attempts', attempts: state.attempts };
        yield { type: 'error', error: contentSent ? new RoutingError(base.with({ partialText: delivered }), state.attempts) : base };
        return;
      }
      const { target } = pick;
      if (previous) yield { type: 'switch', from: previous.target, to: target, error: previous.error, ...(contentSent && { resumed: true }) };
      const attempt = state.attempts.length;
      const started = deps.now();
      const resume = contentSent ? { partialText: delivered } : undefined;
      const { ac, detach } = attemptController(opts.signal);
      const it = openAttempt(() => call(target, state.remainingMs(), attempt, ac.signal, resume), target.provider);
      let attemptContent = false;
      let firstContentAt: number | undefined;
      let failed: GatewayError | undefined;
      let settled = false;
      let filtered = false;
      // Parts before the first content (`start`) wait until this attempt delivers something: a failed
      // attempt's parts never reach the client, so the events read attempt, (switch, attempt)*, parts.
      let held: StreamPart[] = [];
      const read = (): Promise<IteratorResult<StreamPart> | GatewayError> => {
        const limit = attemptContent ? opts.idleMs?.(target) : opts.firstTokenMs?.(target);
        // No limit (the usual case after the first token): no timeout closure for every chunk.
        if (limit === undefined) return it.next();
        return nextWithin(it, limit, () =>
          new GatewayError('timeout', attemptContent ? `${target.provider}: stream stalled (nothing for ${limit} ms)` : `${target.provider}: no first token within ${limit} ms`, { provider: target.provider }),
        );
      };
      // The first read sends the upstream request: it goes out before the `attempt` event travels through the
      // consumers to the client's side (a round trip of every layer), which then happens while upstream works.
      let firstRead: Promise<IteratorResult<StreamPart> | GatewayError> | undefined = read();
      try {
        yield { type: 'attempt', target, attempt };
        for (;;) {
          let r: IteratorResult<StreamPart> | GatewayError;
          try {
            const pending = firstRead ?? read();
            firstRead = undefined;
            r = await pending;
          } catch (e) {
            failed = toGatewayError(e, target.provider);
            break;
          }
          if (r instanceof GatewayError) {
            failed = r;
            ac.abort(r);
            it.return?.(undefined).catch(() => undefined);
            break;
          }
          if (r.done) break;
          const part = r.value;
          if (part.type === 'error') {
            failed = part.error;
            break;
          }
          if (part.type === 'finish' && part.finishReason === 'content_filter' && opts.onContentFilter === 'fallback' && !contentSent) {
            // Blocked before anything reached the client: ask the next target, as for any failure before content.
            const cost = opts.costOf?.(target, part.usage);
            settled = true;
            state.reject(target, 'content_filter', deps.now() - started, pick.waitedMs, cost !== undefined ? { costUsd: cost } : {}, 'content_filter');
            previous = { target, error: state.lastError! };
            filtered = true;
            it.return?.(undefined).catch(() => undefined);
            break;
          }
          if (part.type === 'finish') {
            const cost = opts.costOf?.(target, part.usage);
            settled = true;
            state.succeed(
              target,
              deps.now() - started,
              pick.waitedMs,
              { ...(cost !== undefined && { costUsd: cost }), ...(resume && { resumed: true }) },
              // What a streaming client waits for is the first token: that is the latency that steers routing.
              (firstContentAt ?? deps.now()) - started,
            );
            yield* held;
            yield { type: 'attempts', attempts: state.attempts };
            yield part;
            return;
          }
          if (part.type === 'text-delta') delivered += part.text;
          if (part.type === 'tool-call-delta') toolSent = true;
          if (isContent(part)) {
            attemptContent = true;
            contentSent = true;
            firstContentAt ??= deps.now();
          }
          if (!attemptContent) {
            held.push(part);
            continue;
          }
          if (held.length > 0) {
            yield* held;
            held = [];
          }
          yield part;
        }
      } finally {
        detach();
        // The consumer left at the `attempt` event: the first read settles once the abort below ends the call.
        firstRead?.catch(() => undefined);
        // The consumer went away mid-attempt: stop the upstream call and free a half-open probe slot.
        if (!settled && failed === undefined) {
          ac.abort(new GatewayError('cancelled', 'stream closed by the consumer'));
          state.release(target);
        }
      }
      if (filtered) continue;
      settled = true;
      failed ??= new GatewayError('invalid_response', `${target.provider}: stream ended without a terminal part`, { provider: target.provider });
      if (opts.signal?.aborted && failed.kind !== 'cancelled') failed = new GatewayError('cancelled', 'request cancelled', { provider: target.provider, cause: failed });
      const goOn = state.fail(target, failed, deps.now() - started, pick.waitedMs, resume ? { resumed: true } : {});
      if (!goOn || (contentSent && (!opts.resume || toolSent))) {
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
