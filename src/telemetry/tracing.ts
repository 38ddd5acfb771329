import {
  context,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
// The shared records of core: telemetry wraps the gateway's results, it never calls into the gateway.
import { attemptsOf, type AttemptRecord, type Completion, type CompletionEvent } from '../core/index.ts';
import { ATTR, GEN_AI_SYSTEM_OF_PROTOCOL } from './trace-attributes.ts';

export interface ProviderDescription {
  /** The provider's protocol or preset (`openai`, `anthropic`, `gemini`, `ollama`, `groq`, …). */
  protocol: string;
  /** Host of its base URL: the semconv `server.address`. */
  serverAddress?: string | undefined;
  serverPort?: number | undefined;
}

/**
 * The one clock of every span Switchboard makes: epoch ms with sub-ms precision. Spans whose times are
 * reconstructed (attempts, provider calls) must pass them explicitly, and the SDK's own clock (anchored to
 * Date.now() at a trace's root) may differ from this one by a fraction of a millisecond: so the server and
 * operation spans take their times from here too, and a parent never seems to end before its child.
 */
export const spanClock = (): number => performance.timeOrigin + performance.now();

export interface TracingDeps {
  tracer: Tracer;
  /** Provider instance id → protocol and host, for the GenAI attributes of provider call spans. */
  describeProvider?: (providerId: string) => ProviderDescription | undefined;
  /** Record prompts and outputs as span events. Off unless configured: they may hold personal data. */
  recordContent?: boolean;
  /** Wall clock in epoch ms (fractional), for span times. */
  clock?: () => number;
}

/** What is known when a request arrives. */
export interface TraceRequestInfo {
  /** The route or model the client asked for. */
  requested?: string | undefined;
  stream: boolean;
  requestId?: string | undefined;
  /** The prompt, recorded only when `recordContent` is on. */
  messages?: unknown;
  /** gen_ai.operation.name of the provider calls; chat by default. */
  operation?: 'chat' | 'embeddings' | undefined;
}

/** The plan the gateway made: set on the route span when known. */
export interface RoutePlanInfo {
  route: string;
  version: number;
  /** `provider/model` of every candidate, in the order they would be tried. */
  candidates: readonly string[];
}

const ROUTE_SPAN_KEY = Symbol('switchboard.route-span');

/** The trace id of the active span, or null when tracing is off (the no-op tracer's ids are invalid). */
export function currentTraceId(ctx: Context = context.active()): string | null {
  const sc = trace.getSpan(ctx)?.spanContext();
  return sc && isSpanContextValid(sc) ? sc.traceId : null;
}

/** Sets the plan on the request's route span, from anywhere inside the request (the gateway, after planning). */
export function annotateRoutePlan(plan: RoutePlanInfo, ctx: Context = context.active()): void {
  const span = ctx.getValue(ROUTE_SPAN_KEY) as Span | undefined;
  span?.setAttributes({
    [ATTR.routeName]: plan.route,
    [ATTR.routeVersion]: plan.version,
    [ATTR.routeCandidates]: [...plan.candidates],
  });
}

/**
 * Spans of one gateway request, as a wrapper around its Completion or CompletionEvent stream:
 * `switchboard.route` is live (the gateway runs inside it) and ends at the terminal event. Attempt and
 * provider call spans are live too when the gateway calls `onAttempt` per attempt (measured times, HTTP
 * client spans nested under the call); otherwise they are written from the attempt records when the
 * request ends, with reconstructed times.
 */
export function createTracing(deps: TracingDeps) {
  const { tracer } = deps;
  const clock = deps.clock ?? spanClock;
  const recordContent = deps.recordContent ?? false;

  function providerAttrs(providerId: string): Attributes {
    const d = deps.describeProvider?.(providerId);
    const attrs: Attributes = { [ATTR.genAiSystem]: d ? (GEN_AI_SYSTEM_OF_PROTOCOL[d.protocol] ?? d.protocol) : providerId };
    if (d?.serverAddress) attrs[ATTR.serverAddress] = d.serverAddress;
    if (d?.serverPort) attrs[ATTR.serverPort] = d.serverPort;
    return attrs;
  }

  /** A provider call as it ran: its spans are live while it runs, and end with the request. */
  interface LiveAttempt {
    span: Span;
    call: Span;
    start: number;
    end: number | undefined;
  }

  function attemptAttrs(i: number, provider: string, model: string): Attributes {
    return { [ATTR.attemptNumber]: i + 1, [ATTR.attemptProvider]: provider, [ATTR.attemptModel]: model };
  }

  function callAttrs(operation: string, provider: string, model: string): Attributes {
    return { [ATTR.genAiOperation]: operation, [ATTR.genAiRequestModel]: model, ...providerAttrs(provider) };
  }

  /**
   * Ends the attempt spans with what the attempt records say (status, error kind, retry delay, usage).
   * Attempts whose call ran through `onAttempt` keep their measured times; any other (a gateway that did
   * not call the hook) is laid end to end from the route's start, with times reconstructed from the
   * records' latency and retry delay.
   */
  function endAttempts(
    routeCtx: Context,
    start: number,
    end: number,
    attempts: readonly AttemptRecord[],
    done: Completion | undefined,
    live: Map<number, LiveAttempt>,
    failure: string | undefined,
    operation: string,
  ): void {
    let t = start;
    attempts.forEach((a, i) => {
      const measured = live.get(i);
      live.delete(i);
      const attemptStart = measured?.start ?? Math.min(end, t + (a.retryDelayMs ?? 0));
      const attemptEnd = measured ? (measured.end ?? end) : Math.min(end, attemptStart + a.latencyMs);
      t = attemptEnd;
      const span = measured?.span ?? tracer.startSpan('switchboard.attempt', { kind: SpanKind.INTERNAL, startTime: attemptStart, attributes: attemptAttrs(i, a.provider, a.model) }, routeCtx);
      span.setAttribute(ATTR.attemptStatus, a.status);
      if (a.retryDelayMs !== undefined) span.setAttribute(ATTR.attemptRetryDelayMs, a.retryDelayMs);
      if (a.errorKind) span.setAttribute(ATTR.errorType, a.errorKind);
      const ok = a.status === 'ok';
      const answered = ok && done !== undefined && i === attempts.length - 1 ? done : undefined;
      const call =
        measured?.call ??
        tracer.startSpan(`${operation} ${a.model}`, { kind: SpanKind.CLIENT, startTime: attemptStart, attributes: callAttrs(operation, a.provider, a.model) }, trace.setSpan(routeCtx, span));
      if (answered) {
        call.setAttributes({
          [ATTR.genAiResponseModel]: answered.upstreamModel,
          [ATTR.genAiInputTokens]: answered.usage.inputTokens,
          [ATTR.genAiOutputTokens]: answered.usage.outputTokens,
          [ATTR.genAiFinishReasons]: [answered.finishReason],
        });
        if (answered.providerRequestId) call.setAttribute(ATTR.genAiResponseId, answered.providerRequestId);
        if (answered.timeToFirstTokenMs !== null) call.setAttribute(ATTR.ttftMs, answered.timeToFirstTokenMs);
        if (recordContent) call.addEvent('gen_ai.choice', { [ATTR.genAiCompletion]: JSON.stringify(answered.message) }, attemptEnd);
      }
      if (a.errorKind) call.setAttribute(ATTR.errorType, a.errorKind);
      if (!ok) {
        const status = { code: SpanStatusCode.ERROR, message: a.errorKind ?? 'error' };
        call.setStatus(status);
        span.setStatus(status);
      }
      call.end(attemptEnd);
      span.end(attemptEnd);
    });
    // Calls without a record: the request ended (cancelled) while they ran.
    for (const m of live.values()) {
      const status = { code: SpanStatusCode.ERROR, message: failure ?? 'cancelled' };
      m.call.setStatus(status);
      m.span.setStatus(status);
      m.call.end(m.end ?? end);
      m.span.end(m.end ?? end);
    }
    live.clear();
  }

  /**
   * Starts the route span as a child of the active context (the HTTP server or GraphQL operation span).
   * The returned `traceId` is known at once, for an `x-trace-id` header before the first byte.
   */
  function begin(info: TraceRequestInfo) {
    const start = clock();
    const operation = info.operation ?? 'chat';
    const attrs: Attributes = { [ATTR.stream]: info.stream };
    if (info.requested) attrs[ATTR.routeRequested] = info.requested;
    if (info.requestId) attrs[ATTR.requestId] = info.requestId;
    const span = tracer.startSpan('switchboard.route', { kind: SpanKind.INTERNAL, startTime: start, attributes: attrs });
    if (recordContent && info.messages !== undefined) {
      span.addEvent('gen_ai.content.prompt', { [ATTR.genAiPrompt]: JSON.stringify(info.messages) }, start);
    }
    const routeCtx = trace.setSpan(context.active(), span).setValue(ROUTE_SPAN_KEY, span);
    const traceId = currentTraceId(routeCtx);
    let ended = false;
    let ttftMs: number | null = null;
    let switches = 0;
    const live = new Map<number, LiveAttempt>();

    /**
     * The gateway's per-attempt hook: the attempt and provider call spans start when the call does and
     * the call runs inside them, so the HTTP client span of the undici instrumentation nests under the
     * provider call. The call's end is measured here (its answer, or a stream's terminal part); the
     * spans themselves end with the request, when the attempt records say how each attempt went.
     */
    function onAttempt(target: { provider: string; model: string }, attempt: number) {
      const at = clock();
      const attemptSpan = tracer.startSpan('switchboard.attempt', { kind: SpanKind.INTERNAL, startTime: at, attributes: attemptAttrs(attempt, target.provider, target.model) }, routeCtx);
      const attemptCtx = trace.setSpan(routeCtx, attemptSpan);
      const call = tracer.startSpan(`${operation} ${target.model}`, { kind: SpanKind.CLIENT, startTime: at, attributes: callAttrs(operation, target.provider, target.model) }, attemptCtx);
      const callCtx = trace.setSpan(attemptCtx, call);
      const rec: LiveAttempt = { span: attemptSpan, call, start: at, end: undefined };
      if (ended) {
        // A call started after the request ended (should not happen): close its spans at once.
        call.end(at);
        attemptSpan.end(at);
      } else live.set(attempt, rec);
      const stop = () => {
        rec.end ??= clock();
      };
      return {
        async call<T>(fn: () => Promise<T>): Promise<T> {
          try {
            return await context.with(callCtx, fn);
          } finally {
            stop();
          }
        },
        stream<P extends { type: string }>(open: () => AsyncIterable<P>): AsyncIterable<P> {
          return {
            [Symbol.asyncIterator]() {
              let it: AsyncIterator<P> | undefined;
              let first = true;
              return {
                next: () =>
                  context.with(callCtx, async () => {
                    it ??= open()[Symbol.asyncIterator]();
                    const r = await it.next();
                    if (r.done || r.value.type === 'finish' || r.value.type === 'error') stop();
                    else if (first && (r.value.type === 'text-delta' || r.value.type === 'tool-call-delta' || r.value.type === 'reasoning-delta')) {
                      first = false;
                      call.addEvent('gen_ai.first_token', { [ATTR.ttftMs]: Math.round((clock() - at) * 1000) / 1000 });
                    }
                    return r;
                  }),
                return: async (value?: unknown) => {
                  stop();
                  return (await it?.return?.(value)) ?? { done: true as const, value: undefined };
                },
              };
            },
          };
        },
      };
    }

    function end(outcome: { completion: Completion } | { error: { kind: string; message: string }; attempts: readonly AttemptRecord[] }): void {
      if (ended) return;
      ended = true;
      const stop = clock();
      if ('completion' in outcome) {
        const c = outcome.completion;
        span.setAttributes({
          [ATTR.routeName]: c.route,
          [ATTR.routeVersion]: c.routeVersion,
          [ATTR.routeChosen]: `${c.provider}/${c.model}`,
          [ATTR.routeReason]: c.cached ? 'cache_hit' : c.attempts.length > 1 ? `fallback:${c.attempts.at(-2)?.errorKind ?? 'error'}` : 'primary',
          [ATTR.attempts]: c.attempts.length,
          [ATTR.cacheHit]: c.cached,
        });
        if (c.costUsd !== null) span.setAttribute(ATTR.costUsd, c.costUsd);
        endAttempts(routeCtx, start, stop, c.attempts, c, live, undefined, operation);
      } else {
        span.setAttributes({ [ATTR.attempts]: outcome.attempts.length, [ATTR.errorType]: outcome.error.kind });
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
        endAttempts(routeCtx, start, stop, outcome.attempts, undefined, live, outcome.error.kind, operation);
      }
      if (switches > 0) span.setAttribute(ATTR.fallbacks, switches);
      if (ttftMs !== null) span.setAttribute(ATTR.ttftMs, ttftMs);
      span.end(stop);
    }

    const withTraceId = (c: Completion): Completion => (traceId && c.traceId !== traceId ? { ...c, traceId } : c);

    async function complete(run: () => Promise<Completion>): Promise<Completion> {
      try {
        const c = withTraceId(await context.with(routeCtx, run));
        end({ completion: c });
        return c;
      } catch (e) {
        const attempts = attemptsOf(e);
        const kind = e !== null && typeof e === 'object' && 'kind' in e ? String(e.kind) : 'internal';
        end({ error: { kind, message: e instanceof Error ? e.message : String(e) }, attempts });
        throw e;
      }
    }

    /** A stream event before its terminal one: the first token (reasoning counts) and fallbacks are marked on the route span. */
    function see(ev: { type: string }): void {
      if (ev.type === 'switch') switches++;
      else if (ttftMs === null && (ev.type === 'text-delta' || ev.type === 'tool-call-delta' || ev.type === 'reasoning-delta')) {
        ttftMs = Math.round((clock() - start) * 1000) / 1000;
        span.addEvent('gen_ai.first_token', { [ATTR.ttftMs]: ttftMs });
      }
    }

    /** Pulls each event inside the route span's context, so work done for that pull nests under it. */
    async function* stream(events: AsyncIterable<CompletionEvent>): AsyncGenerator<CompletionEvent> {
      const it = context.with(routeCtx, () => events[Symbol.asyncIterator]());
      try {
        for (;;) {
          const r = await context.with(routeCtx, () => it.next());
          if (r.done) break;
          let ev = r.value;
          switch (ev.type) {
            case 'done':
              ev = { type: 'done', completion: withTraceId(ev.completion) };
              end({ completion: ev.completion });
              break;
            case 'error':
              end({ error: { kind: ev.error.kind, message: ev.error.message }, attempts: ev.attempts });
              break;
            default:
              see(ev);
          }
          yield ev;
        }
      } finally {
        if (!ended) {
          end({ error: { kind: 'cancelled', message: 'stream not read to its end' }, attempts: [] });
          await it.return?.();
        }
      }
    }

    const onPlan = (plan: RoutePlanInfo) => annotateRoutePlan(plan, routeCtx);
    // `see` and `end` are the same steps as `stream` and `complete`, for a caller that sees the events itself (the pipeline's tracing stage).
    return { traceId, context: routeCtx, complete, stream, onAttempt, onPlan, see, end };
  }

  /** A live child span around `fn` (cache lookup, rate-limit check, …); failures mark it and propagate. */
  async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
    return tracer.startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
      try {
        return await fn(span);
      } catch (e) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
        throw e;
      } finally {
        span.end();
      }
    });
  }

  return {
    begin,
    inSpan,
    /** `switchboard.cache.lookup`: `fn` says whether it hit. */
    cacheLookup: <T>(attrs: { route: string }, fn: () => Promise<{ hit: boolean; value: T }>) =>
      inSpan('switchboard.cache.lookup', { [ATTR.routeName]: attrs.route }, async (span) => {
        const r = await fn();
        span.setAttribute(ATTR.cacheHit, r.hit);
        return r;
      }),
    /** `switchboard.rate_limit`: `fn` says whether the request may proceed. */
    rateLimit: <T extends { allowed: boolean; retryAfterMs?: number | undefined }>(attrs: { scope: string }, fn: () => Promise<T>) =>
      inSpan('switchboard.rate_limit', { [ATTR.rateLimitScope]: attrs.scope }, async (span) => {
        const r = await fn();
        span.setAttribute(ATTR.rateLimitAllowed, r.allowed);
        if (r.retryAfterMs !== undefined) span.setAttribute(ATTR.rateLimitRetryAfterMs, r.retryAfterMs);
        return r;
      }),
  };
}

export type Tracing = ReturnType<typeof createTracing>;
