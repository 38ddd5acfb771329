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
// Types only: telemetry wraps the gateway's results, it never calls into the gateway.
import type { Completion, CompletionEvent } from '../gateway/completion.ts';
import type { AttemptRecord } from '../router/executor.ts';
import { ATTR, GEN_AI_SYSTEM_OF_PROTOCOL } from './trace-attributes.ts';

export interface ProviderDescription {
  /** The provider's protocol or preset (`openai`, `anthropic`, `gemini`, `ollama`, `groq`, …). */
  protocol: string;
  /** Host of its base URL: the semconv `server.address`. */
  serverAddress?: string | undefined;
  serverPort?: number | undefined;
}

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
 * `switchboard.route` is live (the gateway runs inside it, so HTTP client spans nest under it) and ends
 * at the terminal event; the `switchboard.attempt` spans and their provider call spans are written
 * when the request ends, from the attempt records (latency and retry delay), with reconstructed times.
 */
export function createTracing(deps: TracingDeps) {
  const { tracer } = deps;
  const clock = deps.clock ?? (() => performance.timeOrigin + performance.now());
  const recordContent = deps.recordContent ?? false;

  function providerAttrs(providerId: string): Attributes {
    const d = deps.describeProvider?.(providerId);
    const attrs: Attributes = { [ATTR.genAiSystem]: d ? (GEN_AI_SYSTEM_OF_PROTOCOL[d.protocol] ?? d.protocol) : providerId };
    if (d?.serverAddress) attrs[ATTR.serverAddress] = d.serverAddress;
    if (d?.serverPort) attrs[ATTR.serverPort] = d.serverPort;
    return attrs;
  }

  /** Attempt spans (and one provider call span each) laid end to end from the route's start. */
  function writeAttempts(routeCtx: Context, start: number, end: number, attempts: readonly AttemptRecord[], done: Completion | undefined): void {
    let t = start;
    attempts.forEach((a, i) => {
      const attemptStart = Math.min(end, t + (a.retryDelayMs ?? 0));
      const attemptEnd = Math.min(end, attemptStart + a.latencyMs);
      t = attemptEnd;
      const attrs: Attributes = {
        [ATTR.attemptNumber]: i + 1,
        [ATTR.attemptProvider]: a.provider,
        [ATTR.attemptModel]: a.model,
        [ATTR.attemptStatus]: a.status,
      };
      if (a.retryDelayMs !== undefined) attrs[ATTR.attemptRetryDelayMs] = a.retryDelayMs;
      if (a.errorKind) attrs[ATTR.errorType] = a.errorKind;
      const span = tracer.startSpan('switchboard.attempt', { kind: SpanKind.INTERNAL, startTime: attemptStart, attributes: attrs }, routeCtx);
      const ok = a.status === 'ok';
      const answered = ok && done !== undefined && i === attempts.length - 1 ? done : undefined;
      const callAttrs: Attributes = {
        [ATTR.genAiOperation]: 'chat',
        [ATTR.genAiRequestModel]: a.model,
        ...providerAttrs(a.provider),
      };
      if (answered) {
        callAttrs[ATTR.genAiResponseModel] = answered.upstreamModel;
        callAttrs[ATTR.genAiInputTokens] = answered.usage.inputTokens;
        callAttrs[ATTR.genAiOutputTokens] = answered.usage.outputTokens;
        callAttrs[ATTR.genAiFinishReasons] = [answered.finishReason];
        if (answered.providerRequestId) callAttrs[ATTR.genAiResponseId] = answered.providerRequestId;
        if (answered.timeToFirstTokenMs !== null) callAttrs[ATTR.ttftMs] = answered.timeToFirstTokenMs;
      }
      if (a.errorKind) callAttrs[ATTR.errorType] = a.errorKind;
      const call = tracer.startSpan(`chat ${a.model}`, { kind: SpanKind.CLIENT, startTime: attemptStart, attributes: callAttrs }, trace.setSpan(routeCtx, span));
      if (answered && recordContent) {
        call.addEvent('gen_ai.choice', { [ATTR.genAiCompletion]: JSON.stringify(answered.message) }, attemptEnd);
      }
      if (!ok) {
        const status = { code: SpanStatusCode.ERROR, message: a.errorKind ?? 'error' };
        call.setStatus(status);
        span.setStatus(status);
      }
      call.end(attemptEnd);
      span.end(attemptEnd);
    });
  }

  /**
   * Starts the route span as a child of the active context (the HTTP server or GraphQL operation span).
   * The returned `traceId` is known at once, for an `x-trace-id` header before the first byte.
   */
  function begin(info: TraceRequestInfo) {
    const start = clock();
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
        writeAttempts(routeCtx, start, stop, c.attempts, c);
      } else {
        span.setAttributes({ [ATTR.attempts]: outcome.attempts.length, [ATTR.errorType]: outcome.error.kind });
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
        writeAttempts(routeCtx, start, stop, outcome.attempts, undefined);
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
        const attempts = e !== null && typeof e === 'object' && 'attempts' in e && Array.isArray(e.attempts) ? (e.attempts as AttemptRecord[]) : [];
        const kind = e !== null && typeof e === 'object' && 'kind' in e ? String(e.kind) : 'internal';
        end({ error: { kind, message: e instanceof Error ? e.message : String(e) }, attempts });
        throw e;
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
            case 'text-delta':
            case 'tool-call-delta':
              if (ttftMs === null) {
                ttftMs = Math.round((clock() - start) * 1000) / 1000;
                span.addEvent('gen_ai.first_token', { [ATTR.ttftMs]: ttftMs });
              }
              break;
            case 'switch':
              switches++;
              break;
            case 'done':
              ev = { type: 'done', completion: withTraceId(ev.completion) };
              end({ completion: ev.completion });
              break;
            case 'error':
              end({ error: { kind: ev.error.kind, message: ev.error.message }, attempts: ev.attempts });
              break;
            case 'start':
              break;
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

    return { traceId, context: routeCtx, complete, stream };
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
