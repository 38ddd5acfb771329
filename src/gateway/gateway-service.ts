import { randomUUID } from 'node:crypto';
import type { Config, RouteConfig } from '../config/index.ts';
import {
  GatewayError,
  ToolCallAccumulator,
  emptyUsage,
  estimateInputTokens,
  type ChatResponse,
  type EmbeddingRequest,
  type EmbeddingResponse,
  type StreamPart,
  type Usage,
} from '../core/index.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { CallOptions } from '../providers/spec.ts';
import { createAnswerValidator } from '../router/answer-validator.ts';
import { createInMemoryBreakerState, type BreakerState } from '../router/circuit-breaker.ts';
import { createExecutor, RoutingError, type AttemptRecord, type ExecutorDeps } from '../router/executor.ts';
import { createInMemoryLatencyWindow, type LatencyWindow } from '../router/latency-window.ts';
import { describeExclusions, planRoute, targetKey, type RoutePlan, type Target } from '../router/route-plan.ts';
import { expectedCostUsd } from '../router/strategies.ts';
import { RouteTable } from '../router/route-table.ts';
import { CompletionLog } from '../usage/completion-log.ts';
import { configPriceEntries, createPricing, usageOrEstimate, type PriceSource, type Pricing } from '../usage/pricing.ts';
import { Catalog } from './catalog.ts';
import { authorizePin } from './access-rule.ts';
import { createRouteResolver } from './route-resolver.ts';
import { noCandidateKind, realSleep, totalCost } from './routing-support.ts';
import { continuationRequest, spliceContinuation } from './continuation.ts';
import { providerHealth } from './provider-health.ts';
import { createTokenCounter, needsPreciseCount, type TokenCounter } from './token-counter.ts';
import type { Completion, CompletionEvent, GatewayRequest, Principal } from './completion.ts';

export interface GatewayDeps {
  config: Config;
  registry: ProviderRegistry;
  /** Milliseconds; tests inject a fake clock. */
  now?: () => number;
  sleep?: ExecutorDeps['sleep'];
  random?: () => number;
  newId?: () => string;
  /** Stream stall timers (first token, idle); tests inject fake ones. */
  setTimer?: ExecutorDeps['setTimer'];
  /** Shared breaker state (the Redis-backed one across instances); in memory by default. */
  breakers?: BreakerState;
  /** Shared latency windows; in memory by default. */
  latency?: LatencyWindow;
  /** Tokenizer counts near a context-window limit; a worker-thread js-tiktoken by default. */
  tokenCounter?: TokenCounter;
  /** Prices usage (config over the built-in table); from config's model prices by default. */
  pricing?: Pricing;
}

/**
 * Per-attempt hook (tracing): each provider call of a request runs through it, so work the call does
 * (its HTTP client span) happens inside the attempt's own context. Optional on any request.
 */
export type OnAttempt = (target: Target, attempt: number) => AttemptScope;
export interface AttemptScope {
  call<T>(fn: () => Promise<T>): Promise<T>;
  stream(open: () => AsyncIterable<StreamPart>): AsyncIterable<StreamPart>;
}
/** Tracing hooks a request may carry: per attempt, and the plan once made (route, version, candidates in order). */
export type ObservedRequest = GatewayRequest & {
  onAttempt?: OnAttempt | undefined;
  onPlan?: ((plan: { route: string; version: number; candidates: string[] }) => void) | undefined;
};

/** A Completion as the gateway returns it: where its price came from. */
export type PricedCompletion = Completion & { priceSource: PriceSource; priceVersion: string | null };

/**
 * The service both APIs call. It resolves the route (or pinned model), plans the candidates, runs the
 * router's attempt loop over the provider adapters, prices the result and records it. It never speaks
 * HTTP to clients and never parses vendor payloads.
 */
export function createGateway(deps: GatewayDeps) {
  const { config, registry } = deps;
  const now = deps.now ?? (() => performance.now());
  const random = deps.random ?? Math.random;
  const wallClock = () => new Date();
  const newId = deps.newId ?? (() => `cmpl_${randomUUID().replaceAll('-', '')}`);
  const catalog = new Catalog(config);
  const routes = new RouteTable(config.routes);
  const log = new CompletionLog<Completion>(2000);
  const breakers = deps.breakers ?? createInMemoryBreakerState(config.router.breaker);
  const latency = deps.latency ?? createInMemoryLatencyWindow(config.router.latencyWindowMs);
  const tokenCounter = deps.tokenCounter ?? createTokenCounter({ budgetMs: config.router.tokenCountBudgetMs });
  const executor = createExecutor({ now, sleep: deps.sleep ?? realSleep, random, breakers, latency, setTimer: deps.setTimer });
  const pricing = deps.pricing ?? createPricing({ entries: configPriceEntries(config) });

  const { resolve } = createRouteResolver({ catalog, routes, defaultRoute: config.defaults.route });

  /** The plan a request runs on; `explainRoute` calls the same function. */
  async function planFor(req: GatewayRequest): Promise<{ plan: RoutePlan; route: RouteConfig }> {
    const r = resolve(req);
    let inputTokens: number | undefined;
    const estimate = estimateInputTokens(req.chat);
    if (needsPreciseCount(estimate, req.chat.maxOutputTokens ?? 0, r.targets.map((t) => t.contextWindow))) {
      // Near a window's limit chars/4 may be wrong either way: count (off the event loop, within
      // router.tokenCountBudgetMs, dropped if the client goes away); past the budget or on failure keep the estimate.
      inputTokens = (await tokenCounter.count(req.chat, req.signal).catch(() => undefined))?.tokens;
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
    });
    return { plan: p, route: r.route };
  }

  async function plan(req: ObservedRequest): Promise<{ plan: RoutePlan; route: RouteConfig }> {
    const planned = await planFor(req);
    const p = planned.plan;
    req.onPlan?.({ route: p.route, version: p.routeVersion, candidates: p.candidates.map((t) => targetKey(t)) });
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
    };
  }

  function callOptions(target: Target, remainingMs: number, req: GatewayRequest, signal: AbortSignal | undefined): CallOptions {
    const provider = catalog.provider(target.provider);
    return {
      model: target.upstreamModel,
      capabilities: target.capabilities,
      defaultMaxOutputTokens: target.maxOutputTokens !== undefined
        ? Math.min(target.maxOutputTokens, provider?.defaultMaxOutputTokens ?? target.maxOutputTokens)
        : provider?.defaultMaxOutputTokens,
      signal,
      timeouts: { totalMs: Math.max(1, Math.min(remainingMs, provider?.timeouts.totalMs ?? remainingMs)) },
      headers: req.requestId ? { 'x-request-id': req.requestId } : undefined,
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
    req: GatewayRequest,
  ): PricedCompletion {
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
      message: { role: 'assistant', content: res.text === '' && res.toolCalls.length > 0 ? null : res.text, toolCalls: res.toolCalls },
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
      traceId: null,
      principal: req.principal?.name,
    };
    if (req.retain) log.add(completion);
    return completion;
  }

  /** The attempt loop over `generate`, validating each answer when the plan is a cascade. */
  function runGenerate(p: RoutePlan, route: RouteConfig, req: ObservedRequest) {
    const validate = p.cascade ? createAnswerValidator(route.validator, req.chat) : undefined;
    return executor.run<ChatResponse>(
      p,
      (target, remainingMs, attempt) => {
        const call = () => registry.get(target.provider).generate(req.chat, callOptions(target, remainingMs, req, req.signal));
        return req.onAttempt ? req.onAttempt(target, attempt).call(call) : call();
      },
      {
        ...executeOptions(route, req),
        annotate: (res, target) => ({ costUsd: costFor(target, res.usage) }),
        ...(validate && { validate: (res: ChatResponse) => validate(res) }),
      },
    );
  }

  async function complete(req: ObservedRequest): Promise<Completion> {
    const started = now();
    const id = newId();
    const { plan: p, route } = await plan(req);
    try {
      const { value, target, attempts } = await runGenerate(p, route, req);
      return finish(id, p, target, value, attempts, started, null, req);
    } catch (e) {
      throw e instanceof GatewayError ? e : new GatewayError('internal', String(e), { cause: e });
    }
  }

  /** A cascade cannot stream its steps (each answer is judged whole): the accepted answer is replayed as a stream. */
  async function* cascadeStream(id: string, p: RoutePlan, route: RouteConfig, req: ObservedRequest, started: number): AsyncGenerator<CompletionEvent> {
    let result: Awaited<ReturnType<typeof runGenerate>>;
    try {
      result = await runGenerate(p, route, req);
    } catch (e) {
      const error = e instanceof GatewayError ? e : new GatewayError('internal', String(e));
      yield { type: 'error', id, error, partialText: '', attempts: error instanceof RoutingError ? error.attempts : [] };
      return;
    }
    const { value, target, attempts } = result;
    yield { type: 'start', id, route: p.route, routeVersion: p.routeVersion, provider: target.provider, model: target.model };
    const ttft = Math.round((now() - started) * 1000) / 1000;
    if (value.text) yield { type: 'text-delta', text: value.text };
    for (const [index, call] of value.toolCalls.entries()) {
      yield { type: 'tool-call-delta', index, id: call.id, name: call.name, argumentsDelta: call.arguments };
    }
    yield { type: 'done', completion: finish(id, p, target, value, attempts, started, ttft, req) };
  }

  /** One streamed attempt: a continuation request when it resumes a broken stream. */
  function streamCall(target: Target, remainingMs: number, req: GatewayRequest, signal: AbortSignal | undefined, resume: { partialText: string } | undefined) {
    const adapter = registry.get(target.provider);
    if (!resume) return adapter.stream(req.chat, callOptions(target, remainingMs, req, signal));
    const protocol = catalog.provider(target.provider)?.protocol ?? adapter.protocol;
    const chat = continuationRequest(req.chat, resume.partialText, protocol);
    return spliceContinuation(adapter.stream(chat, callOptions(target, remainingMs, req, signal)), resume.partialText);
  }

  async function* stream(req: ObservedRequest): AsyncGenerator<CompletionEvent> {
    const started = now();
    const id = newId();
    let p: RoutePlan;
    let route: RouteConfig;
    try {
      ({ plan: p, route } = await plan(req));
    } catch (e) {
      const error = e instanceof GatewayError ? e : new GatewayError('internal', String(e));
      yield { type: 'error', id, error, partialText: '', attempts: [] };
      return;
    }
    if (p.cascade) {
      yield* cascadeStream(id, p, route, req, started);
      return;
    }
    let current: Target | undefined;
    let text = '';
    let reasoning = '';
    let ttft: number | null = null;
    let upstreamModel = '';
    let providerRequestId: string | undefined;
    let attempts: AttemptRecord[] = [];
    const tools = new ToolCallAccumulator();
    const events = executor.runStream(p, (target, remainingMs, attempt, signal, resume) => {
      const open = () => streamCall(target, remainingMs, req, signal, resume);
      return req.onAttempt ? req.onAttempt(target, attempt).stream(open) : open();
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
          reasoning += ev.text;
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
            ...(reasoning && { reasoning }),
          };
          yield { type: 'done', completion: finish(id, p, current!, res, attempts, started, ttft, req) };
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

  async function embed(req: EmbeddingRequest & { model: string; principal?: Principal; signal?: AbortSignal }): Promise<EmbeddingResponse & { provider: string; modelId: string }> {
    const known = catalog.resolveModel(req.model).filter((e) => e.model.capabilities.includes('embeddings'));
    if (known.length === 0) throw new GatewayError('not_found', `no embeddings model "${req.model}"`, { param: 'model' });
    // The chat path's rule: only deployments the key may pin (its `models`, else its routes' targets).
    const entries = authorizePin(req.principal, req.model, known, routes);
    let last: GatewayError | undefined;
    for (const e of entries) {
      const adapter = registry.get(e.provider.id);
      if (!adapter.embed) continue;
      try {
        const res = await adapter.embed(
          { input: req.input, dimensions: req.dimensions, providerOptions: req.providerOptions },
          { model: e.target.upstreamModel, capabilities: e.model.capabilities, signal: req.signal },
        );
        return { ...res, provider: e.provider.id, modelId: e.model.id };
      } catch (err) {
        last = err instanceof GatewayError ? err : new GatewayError('internal', String(err));
        if (!last.retryable) throw last;
      }
    }
    throw last ?? new GatewayError('unsupported_feature', `no provider of "${req.model}" serves embeddings`, { param: 'model' });
  }

  return {
    complete,
    stream,
    embed,
    /** Where a request would go, by the request path's own planning, without calling a provider. */
    explain: async (req: GatewayRequest): Promise<RoutePlan> => (await planFor(req)).plan,
    /** Figures of one target for explanations: expected cost and rolling p95. */
    targetFigures: (t: Target, p: RoutePlan) => ({
      expectedCostUsd: expectedCostUsd(t, p.estimatedInputTokens, p.expectedOutputTokens ?? 256) ?? null,
      p95LatencyMs: latency.p95(targetKey(t), now()) ?? null,
      circuit: breakers.peek(targetKey(t), now()).state,
    }),
    health: (providerId: string) => providerHealth(providerId, catalog, breakers, latency, now()),
    breakers,
    latency,
    catalog,
    routes,
    completions: log,
    close: async () => {
      await Promise.all([registry.close(), tokenCounter.close()]);
    },
  };
}

export type Gateway = ReturnType<typeof createGateway>;
