import type { RouteConfig } from '../config/index.ts';
import {
  attemptsOf,
  emptyUsage,
  GatewayError,
  ReasoningAccumulator,
  reasoningDeltas,
  RoutingError,
  ToolCallAccumulator,
  totalCost,
  type AttemptRecord,
  type ChatRequest,
  type ChatResponse,
  type Capability,
  type Completion,
  type CompletionEvent,
  type EmbeddingRequest,
  type EmbeddingResponse,
  type StreamPart,
  type Usage,
} from '../core/index.ts';
import type { WireProtocol } from '../core/protocols.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { CallOptions, PromptCachePolicy } from '../providers/spec.ts';
import { createAnswerValidator } from '../router/answer-validator.ts';
import type { BreakerState } from '../router/circuit-breaker.ts';
import type { createExecutor } from '../router/executor.ts';
import type { LatencyWindow } from '../router/latency-window.ts';
import { describeExclusions, noCandidateKind, planRoute, targetKey, type RoutePlan, type Target } from '../router/route-plan.ts';
import type { CompletionLog } from '../usage/completion-log.ts';
import { usageOrEstimate, type PriceSource, type Pricing } from '../usage/pricing.ts';
import type { Catalog } from './catalog.ts';
import { continuationRequest, spliceContinuation } from './continuation.ts';
import type { GatewayRequest } from './gateway-request.ts';
import { chatForAttempt } from './protocol-params.ts';
import type { GatewayCall } from './request-context.ts';
import type { ResolvedRequest } from './route-resolver.ts';
import { needsPreciseCount, type TokenCounter } from './token-counter.ts';

const EMBEDDINGS: readonly Capability[] = ['embeddings'];

/** The cache breakpoints of one call: each key the route sets wins over the provider's; undefined when none is on. */
function promptCacheOf(provider: PromptCachePolicy | undefined, route: PromptCachePolicy | undefined): PromptCachePolicy | undefined {
  const system = route?.system ?? provider?.system ?? false;
  const tools = route?.tools ?? provider?.tools ?? false;
  return system || tools ? { system, tools } : undefined;
}

/** A Completion as the gateway returns it: where its price came from. */
export type PricedCompletion = Completion & { priceSource: PriceSource; priceVersion: string | null };

export interface UpstreamCallDeps {
  registry: ProviderRegistry;
  catalog: Catalog;
  executor: ReturnType<typeof createExecutor>;
  pricing: Pricing;
  breakers: BreakerState;
  latency: LatencyWindow;
  tokenCounter: TokenCounter;
  /** Completions of requests that ask to be kept (GatewayRequest.retain). */
  log: CompletionLog<Completion>;
  now: () => number;
  random: () => number;
  newId: () => string;
}

/**
 * The gateway's own part of a request, once the pipeline's stages let it through: plan the resolved
 * route's candidates, run the router's attempt loop over the provider adapters, price and record the
 * answer. It reads the route from the request's resolution and never looks it up again.
 */
export function createUpstreamCall(deps: UpstreamCallDeps) {
  const { registry, catalog, executor, pricing, breakers, latency, tokenCounter, log, now, random, newId } = deps;
  const wallClock = () => new Date();

  /** The plan a request runs on; `explain` calls the same function. */
  async function planFor(req: GatewayRequest, r: ResolvedRequest): Promise<{ plan: RoutePlan; route: RouteConfig }> {
    let inputTokens = r.inputTokens;
    if (needsPreciseCount(inputTokens, req.chat.maxOutputTokens ?? 0, r.targets)) {
      // Near a window's limit chars/4 may be wrong either way: count (off the event loop, within
      // router.tokenCountBudgetMs, dropped if the client goes away); past the budget or on failure keep the estimate.
      inputTokens = (await tokenCounter.count(req.chat, req.signal).catch(() => undefined))?.tokens ?? inputTokens;
    }
    const p = planRoute(r.route.name, r.version, r.targets, req.chat, {
      strategy: r.route.strategy,
      task: req.task,
      constraints: req.constraints,
      expectedOutputTokens: r.route.expectedOutputTokens,
      inputTokens,
      breakers,
      latency,
      now: now(),
      random,
      requires: req.embeddings ? EMBEDDINGS : undefined,
    });
    return { plan: p, route: r.route };
  }

  async function plan(call: GatewayCall): Promise<{ plan: RoutePlan; route: RouteConfig }> {
    const planned = await planFor(call.request, call.resolved);
    const p = planned.plan;
    call.onPlan?.({ route: p.route, version: p.routeVersion, candidates: p.candidates.map((t) => targetKey(t)) });
    if (p.candidates.length === 0) throw new GatewayError(noCandidateKind(p.exclusionCodes ?? []), describeExclusions(p));
    return planned;
  }

  /** USD of `usage` on `target` (null: unpriced), by the price in effect now. */
  function costFor(target: Target, usage: Usage): number | null {
    return pricing.price(usage, { provider: target.provider, model: target.model, upstreamModel: target.upstreamModel }).costUsd;
  }

  function executeOptions(route: RouteConfig, req: GatewayRequest) {
    const budget = req.constraints?.latencyBudgetMs;
    return {
      maxAttempts: route.maxAttempts,
      deadlineMs: budget !== undefined ? Math.min(route.deadlineMs, budget) : route.deadlineMs,
      signal: req.signal,
      onContentFilter: route.onContentFilter,
    };
  }

  /**
   * The request as this attempt sends it: parameters the target's protocol cannot honour are refused (this
   * attempt fails with unsupported_feature before any upstream call; the executor skips to the next target)
   * or dropped, by the route's `unsupportedParams`.
   */
  function chatFor(req: GatewayRequest, route: RouteConfig, target: Target, protocol: WireProtocol): ChatRequest {
    return chatForAttempt(req.chat, req.protocolParams, protocol, route.unsupportedParams, target);
  }

  function callOptions(target: Target, route: RouteConfig, remainingMs: number, req: GatewayRequest, signal: AbortSignal | undefined): CallOptions {
    const provider = catalog.provider(target.provider);
    const promptCache = promptCacheOf(provider?.promptCache, route.promptCache);
    return {
      model: target.upstreamModel,
      capabilities: target.capabilities,
      defaultMaxOutputTokens: target.maxOutputTokens !== undefined
        ? Math.min(target.maxOutputTokens, provider?.defaultMaxOutputTokens ?? target.maxOutputTokens)
        : provider?.defaultMaxOutputTokens,
      signal,
      timeouts: { totalMs: Math.max(1, Math.min(remainingMs, provider?.timeouts.totalMs ?? remainingMs)) },
      headers: req.requestId ? { 'x-request-id': req.requestId } : undefined,
      ...(promptCache && { promptCache }),
    };
  }

  function finish(
    id: string,
    p: RoutePlan,
    target: Target,
    res: ChatResponse,
    attempts: AttemptRecord[],
    started: number,
    ttft: number | null,
    call: GatewayCall,
  ): PricedCompletion {
    const req = call.request;
    const createdAt = wallClock();
    // A provider that reported no usage is billed on our estimate (marked), never silently at $0.
    const usage = usageOrEstimate(res.usage, req.chat, res);
    const priced = pricing.price(usage, { provider: target.provider, model: target.model, upstreamModel: res.model || target.upstreamModel }, createdAt);
    if (usage !== res.usage && attempts.at(-1)?.status === 'ok') {
      // The answering attempt was priced on the empty report: reprice it on the estimate.
      attempts = attempts.map((a, i) => (i === attempts.length - 1 ? { ...a, costUsd: priced.costUsd } : a));
    }
    const completion: PricedCompletion = {
      id,
      route: p.route,
      routeVersion: p.routeVersion,
      provider: target.provider,
      model: target.model,
      upstreamModel: res.model || target.upstreamModel,
      providerRequestId: res.providerRequestId,
      message: {
        role: 'assistant',
        content: res.text === '' && res.toolCalls.length > 0 ? null : res.text,
        toolCalls: res.toolCalls,
        ...(res.reasoning !== undefined && { reasoning: res.reasoning }),
        ...(res.reasoningParts !== undefined && { reasoningParts: res.reasoningParts }),
      },
      finishReason: res.finishReason,
      usage,
      costUsd: attempts.some((a) => a.costUsd !== undefined) ? totalCost(attempts) : priced.costUsd,
      priceSource: priced.priceSource,
      priceVersion: priced.priceVersion,
      latencyMs: Math.round((now() - started) * 1000) / 1000,
      timeToFirstTokenMs: ttft,
      cached: false,
      attempts,
      createdAt,
      traceId: call.traceId,
      principal: req.principal?.name,
    };
    if (req.retain) log.add(completion);
    return completion;
  }

  /** The attempt loop over `generate`, validating each answer when the plan is a cascade. */
  function runGenerate(p: RoutePlan, route: RouteConfig, c: GatewayCall) {
    const req = c.request;
    const validate = p.cascade ? createAnswerValidator(route.validator, req.chat) : undefined;
    return executor.run<ChatResponse>(
      p,
      (target, remainingMs, attempt) => {
        // async: a refusal by chatFor is a rejected attempt like any other, inside or outside the tracing scope.
        const call = async () => {
          const adapter = registry.get(target.provider);
          return adapter.generate(chatFor(req, route, target, adapter.protocol), callOptions(target, route, remainingMs, req, req.signal));
        };
        return c.onAttempt ? c.onAttempt(target, attempt).call(call) : call();
      },
      {
        ...executeOptions(route, req),
        annotate: (res, target) => ({ costUsd: costFor(target, res.usage) }),
        contentFiltered: (res) => res.finishReason === 'content_filter',
        ...(validate && { validate: (res: ChatResponse) => validate(res) }),
      },
    );
  }

  /** The attempt loop over `embed`: the same fallback, breakers, deadline and pricing as chat. */
  function runEmbed(p: RoutePlan, route: RouteConfig, c: GatewayCall, spec: EmbeddingRequest) {
    const req = c.request;
    return executor.run<EmbeddingResponse>(
      p,
      (target, remainingMs, attempt) => {
        const adapter = registry.get(target.provider);
        const call = () =>
          adapter.embed
            ? adapter.embed(spec, callOptions(target, route, remainingMs, req, req.signal))
            : Promise.reject(new GatewayError('unsupported_feature', `${target.provider} has no embeddings endpoint`, { provider: target.provider, param: 'model' }));
        return c.onAttempt ? c.onAttempt(target, attempt).call(call) : call();
      },
      { ...executeOptions(route, req), annotate: (res, target) => ({ costUsd: costFor(target, embeddingUsage(res)) }) },
    );
  }

  async function complete(call: GatewayCall): Promise<Completion> {
    const started = now();
    const id = newId();
    const { plan: p, route } = await plan(call);
    try {
      const spec = call.request.embeddings;
      if (spec) {
        const { value, target, attempts } = await runEmbed(p, route, call, spec);
        const answer: ChatResponse = { text: '', toolCalls: [], finishReason: 'stop', usage: embeddingUsage(value), model: value.model };
        return { ...finish(id, p, target, answer, attempts, started, null, call), embeddings: value.embeddings };
      }
      const { value, target, attempts } = await runGenerate(p, route, call);
      return finish(id, p, target, value, attempts, started, null, call);
    } catch (e) {
      throw e instanceof GatewayError ? e : new GatewayError('internal', String(e), { cause: e });
    }
  }

  /** A cascade cannot stream its steps (each answer is judged whole): the accepted answer is replayed as a stream. */
  async function* cascadeStream(id: string, p: RoutePlan, route: RouteConfig, call: GatewayCall, started: number): AsyncGenerator<CompletionEvent> {
    let result: Awaited<ReturnType<typeof runGenerate>>;
    try {
      result = await runGenerate(p, route, call);
    } catch (e) {
      const error = e instanceof GatewayError ? e : new GatewayError('internal', String(e));
      yield { type: 'error', id, error, partialText: '', attempts: attemptsOf(error) };
      return;
    }
    const { value, target, attempts } = result;
    yield { type: 'start', id, route: p.route, routeVersion: p.routeVersion, provider: target.provider, model: target.model };
    const ttft = Math.round((now() - started) * 1000) / 1000;
    yield* reasoningDeltas(value.reasoningParts);
    if (value.text) yield { type: 'text-delta', text: value.text };
    for (const [index, call] of value.toolCalls.entries()) {
      yield { type: 'tool-call-delta', index, id: call.id, name: call.name, argumentsDelta: call.arguments };
    }
    yield { type: 'done', completion: finish(id, p, target, value, attempts, started, ttft, call) };
  }

  /** One streamed attempt: a continuation request when it resumes a broken stream. */
  function streamCall(target: Target, route: RouteConfig, remainingMs: number, req: GatewayRequest, signal: AbortSignal | undefined, resume: { partialText: string } | undefined) {
    const adapter = registry.get(target.provider);
    let attemptChat: ChatRequest;
    try {
      attemptChat = chatFor(req, route, target, adapter.protocol);
    } catch (e) {
      // A stream never throws (the tracing wrapper opens it lazily, inside its first `next`): a refusal is its one part.
      return refusedStream(e instanceof GatewayError ? e : new GatewayError('internal', String(e)));
    }
    if (!resume) return adapter.stream(attemptChat, callOptions(target, route, remainingMs, req, signal));
    const protocol = catalog.provider(target.provider)?.protocol ?? adapter.protocol;
    const chat = continuationRequest(attemptChat, resume.partialText, protocol);
    return spliceContinuation(adapter.stream(chat, callOptions(target, route, remainingMs, req, signal)), resume.partialText);
  }

  async function* stream(call: GatewayCall): AsyncGenerator<CompletionEvent> {
    const started = now();
    const id = newId();
    const req = call.request;
    if (req.embeddings) {
      yield { type: 'error', id, error: new GatewayError('invalid_request', 'embeddings are not streamed', { param: 'stream' }), partialText: '', attempts: [] };
      return;
    }
    let p: RoutePlan;
    let route: RouteConfig;
    try {
      ({ plan: p, route } = await plan(call));
    } catch (e) {
      const error = e instanceof GatewayError ? e : new GatewayError('internal', String(e));
      yield { type: 'error', id, error, partialText: '', attempts: [] };
      return;
    }
    if (p.cascade) {
      yield* cascadeStream(id, p, route, call, started);
      return;
    }
    let current: Target | undefined;
    let text = '';
    const reasoning = new ReasoningAccumulator();
    let ttft: number | null = null;
    let upstreamModel = '';
    let providerRequestId: string | undefined;
    let attempts: AttemptRecord[] = [];
    const tools = new ToolCallAccumulator();
    const events = executor.runStream(p, (target, remainingMs, attempt, signal, resume) => {
      const open = () => streamCall(target, route, remainingMs, req, signal, resume);
      return call.onAttempt ? call.onAttempt(target, attempt).stream(open) : open();
    }, {
      ...executeOptions(route, req),
      firstTokenMs: (t) => route.streamTimeouts?.firstTokenMs ?? catalog.provider(t.provider)?.timeouts.firstTokenMs,
      idleMs: () => route.streamTimeouts?.idleMs,
      resume: route.resumeStreams,
      costOf: (t, usage) => costFor(t, usage),
    });
    for await (const ev of events) {
      switch (ev.type) {
        case 'attempt':
          if (!current) yield { type: 'start', id, route: p.route, routeVersion: p.routeVersion, provider: ev.target.provider, model: ev.target.model };
          current = ev.target;
          break;
        case 'switch':
          yield {
            type: 'switch',
            from: { provider: ev.from.provider, model: ev.from.model },
            to: { provider: ev.to.provider, model: ev.to.model },
            reason: ev.error.message,
            errorKind: ev.error.kind,
            resumed: ev.resumed === true,
          };
          // The continuing call's reasoning blocks are its own: they must not merge into the broken call's.
          if (ev.resumed === true) reasoning.newSegment();
          break;
        case 'attempts':
          attempts = ev.attempts;
          break;
        case 'start':
          upstreamModel = ev.model ?? upstreamModel;
          providerRequestId = ev.providerRequestId ?? providerRequestId;
          break;
        case 'text-delta':
          ttft ??= Math.round((now() - started) * 1000) / 1000;
          text += ev.text;
          yield ev;
          break;
        case 'reasoning-delta':
          ttft ??= Math.round((now() - started) * 1000) / 1000;
          reasoning.add(ev);
          yield ev;
          break;
        case 'tool-call-delta':
          ttft ??= Math.round((now() - started) * 1000) / 1000;
          tools.add(ev);
          yield ev;
          break;
        case 'finish': {
          const res: ChatResponse = {
            text,
            toolCalls: tools.toArray(),
            finishReason: ev.finishReason,
            rawFinishReason: ev.rawFinishReason,
            usage: ev.usage ?? emptyUsage(),
            model: ev.model ?? upstreamModel,
            providerRequestId: ev.providerRequestId ?? providerRequestId,
            ...reasoning.fields(),
          };
          yield { type: 'done', completion: finish(id, p, current!, res, attempts, started, ttft, call) };
          return;
        }
        case 'error': {
          const error = ev.error;
          yield { type: 'error', id, error, partialText: error.partialText ?? text, attempts: error instanceof RoutingError ? error.attempts : attempts };
          return;
        }
      }
    }
    yield { type: 'error', id, error: new GatewayError('internal', 'stream ended without a terminal event'), partialText: text, attempts };
  }

  return { planFor, complete, stream };
}

async function* refusedStream(error: GatewayError): AsyncGenerator<StreamPart> {
  yield { type: 'error', error };
}

/** An embeddings answer's usage as chat usage: inputs only (an unreported count is left for usageOrEstimate). */
function embeddingUsage(res: EmbeddingResponse): Usage {
  return { ...emptyUsage(), inputTokens: res.usage.inputTokens, ...(res.usage.estimated && { estimated: true }) };
}
