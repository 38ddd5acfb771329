import type { Config } from '../config/index.ts';
import { GatewayError, newId as makeId, type Completion, type EmbeddingRequest, type EmbeddingResponse, type Principal } from '../core/index.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import { createInMemoryBreakerState, type BreakerState } from '../router/circuit-breaker.ts';
import { createExecutor, type ExecutorDeps } from '../router/executor.ts';
import { createInMemoryLatencyWindow, type LatencyWindow } from '../router/latency-window.ts';
import { targetKey, type RoutePlan, type Target } from '../router/route-plan.ts';
import { expectedCostUsd } from '../router/strategies.ts';
import { RouteTable } from '../router/route-table.ts';
import { CompletionLog } from '../usage/completion-log.ts';
import { configPriceEntries, createPricing, type Pricing } from '../usage/pricing.ts';
import { authorizePin } from './access-rule.ts';
import { Catalog } from './catalog.ts';
import type { GatewayRequest } from './gateway-request.ts';
import { createPipeline, type RequestPipeline, type Stage } from './pipeline.ts';
import { providerHealth } from './provider-health.ts';
import { createRouteResolver, type RouteResolver, type RouteResolverDeps } from './route-resolver.ts';
import { realSleep } from './routing-support.ts';
import { createTokenCounter, type TokenCounter } from './token-counter.ts';
import { createUpstreamCall } from './upstream-call.ts';

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
  /** Makes the resolver every request goes through once (createRouteResolver; tests count resolutions). */
  createResolver?: (deps: RouteResolverDeps) => RouteResolver;
}

export type { PricedCompletion } from './upstream-call.ts';

/** Stages around the gateway: `outer` see every request (observability), `inner` run on resolved ones (the store's). */
export interface PipelineStages {
  outer?: readonly Stage[];
  inner?: readonly Stage[];
  /** The pipeline's monotonic clock (request latency, TTFT); performance.now by default. */
  now?: () => number;
}

/**
 * The service both APIs call. A request goes through a pipeline (`compose`): the outer stages, then ONE
 * resolution of its route or pinned model (access decided there), then the inner stages, then the
 * gateway's planning and attempt loop over the provider adapters (upstream-call.ts), priced and
 * recorded. The gateway's own `complete`/`stream` run that pipeline without stages. It never speaks HTTP
 * to clients and never parses vendor payloads.
 */
export function createGateway(deps: GatewayDeps) {
  const { config, registry } = deps;
  const now = deps.now ?? (() => performance.now());
  const random = deps.random ?? Math.random;
  const newId = deps.newId ?? (() => makeId('cmpl'));
  const catalog = new Catalog(config);
  const routes = new RouteTable(config.routes);
  const log = new CompletionLog<Completion>(2000);
  const breakers = deps.breakers ?? createInMemoryBreakerState(config.router.breaker);
  const latency = deps.latency ?? createInMemoryLatencyWindow(config.router.latencyWindowMs);
  const tokenCounter = deps.tokenCounter ?? createTokenCounter({ budgetMs: config.router.tokenCountBudgetMs });
  const executor = createExecutor({ now, sleep: deps.sleep ?? realSleep, random, breakers, latency, setTimer: deps.setTimer });
  const pricing = deps.pricing ?? createPricing({ entries: configPriceEntries(config) });
  const resolver = (deps.createResolver ?? createRouteResolver)({ catalog, routes, defaultRoute: config.defaults.route });
  const upstream = createUpstreamCall({ registry, catalog, executor, pricing, breakers, latency, tokenCounter, log, now, random, newId });

  /** Between the outer and the inner stages: the request's one resolution, which everything after it reads. */
  const resolveStage: Stage = {
    name: 'resolve',
    before(ctx) {
      ctx.resolved = resolver.resolve(ctx.request);
    },
  };

  function compose(stages: PipelineStages = {}): RequestPipeline {
    return createPipeline({ stages: [...(stages.outer ?? []), resolveStage, ...(stages.inner ?? [])], upstream, now: stages.now });
  }

  async function embed(req: EmbeddingRequest & { model: string; principal?: Principal | undefined; signal?: AbortSignal | undefined }): Promise<EmbeddingResponse & { provider: string; modelId: string }> {
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

  const own = compose();

  return {
    prepare: own.prepare,
    complete: own.complete,
    stream: own.stream,
    /** A pipeline with these stages around the gateway (the app's: observability outside, the store's inside). */
    compose,
    /** The resolver requests go through (a budget's soft route is resolved with it too). */
    resolve: (req: GatewayRequest) => resolver.resolve(req),
    embed,
    /** Where a request would go, by the request path's own planning, without calling a provider. */
    explain: async (req: GatewayRequest): Promise<RoutePlan> => (await upstream.planFor(req, resolver.resolve(req))).plan,
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
