import type { Config, RouteConfig } from '../config/index.ts';
import { GatewayError, newId as makeId, sleep, type Completion } from '../core/index.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import { createInMemoryBreakerState, type BreakerState } from '../router/circuit-breaker.ts';
import { createExecutor, type ExecutorDeps } from '../router/executor.ts';
import { createInMemoryLatencyWindow, type LatencyWindow } from '../router/latency-window.ts';
import { targetKey, type RoutePlan } from '../router/route-plan.ts';
import { expectedCostUsd } from '../router/strategies.ts';
import { RouteTable } from '../router/route-table.ts';
import { createCompletionLog, type CompletionLog } from '../usage/completion-log.ts';
import { configPriceEntries, createPricing, type Pricing } from '../usage/pricing.ts';
import { Catalog } from './catalog.ts';
import type { GatewayRequest } from './gateway-request.ts';
import { asEmbeddings } from './embeddings.ts';
import { createPipeline, type Stage } from './pipeline.ts';
import { providerHealth } from './provider-health.ts';
import { RequestContext } from './request-context.ts';
import { createRouteResolver, ResolvedRequest, type RouteResolver, type RouteResolverDeps } from './route-resolver.ts';
import { createTokenCounter, type TokenCounter } from './token-counter.ts';
import type { Gateway, RouteInsights, Services } from './services.ts';
import { createUpstreamCall } from './upstream-call.ts';

export type { Gateway } from './services.ts';

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
  /** The route table to serve from (a config reload keeps the one table, with its runtime routes and versions). */
  routes?: RouteTable;
  /** The completion log (a config reload keeps it, so `completion(id)` still finds what came before). */
  completions?: CompletionLog<Completion>;
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
  const routes = deps.routes ?? new RouteTable(config.routes);
  const log = createCompletionLog();
  const breakers = deps.breakers ?? createInMemoryBreakerState(config.router.breaker);
  const latency = deps.latency ?? createInMemoryLatencyWindow(config.router.latencyWindowMs);
  const tokenCounter = deps.tokenCounter ?? createTokenCounter({ budgetMs: config.router.tokenCountBudgetMs });
  const executor = createExecutor({ now, sleep: deps.sleep ?? sleep, random, breakers, latency, setTimer: deps.setTimer });
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

  /** The gateway's API over a pipeline with these stages around it (the app's: observability outside, the store's inside). */
  function compose(stages: PipelineStages = {}): Gateway {
    const pipeline = createPipeline({ stages: [...(stages.outer ?? []), resolveStage, ...(stages.inner ?? [])], upstream, now: stages.now });
    return {
      ...pipeline,
      async embed(request) {
        const req = request instanceof RequestContext ? request.request : request;
        if (!req.embeddings) throw new GatewayError('internal', 'embed() was given a request without embeddings');
        return asEmbeddings(await pipeline.complete(request));
      },
      explain,
    };
  }

  /** Where a request would go, by the request path's own planning, without calling a provider. */
  async function explain(req: GatewayRequest, draft?: RouteConfig): Promise<RoutePlan> {
    const resolved = draft
      ? new ResolvedRequest(req.chat, req.principal, 'route', draft, (routes.get(draft.name)?.version ?? 0) + 1, catalog.targetsOf(draft), draft.name, undefined)
      : resolver.resolve(req);
    return (await upstream.planFor(req, resolved)).plan;
  }

  const insights: RouteInsights = {
    targetFigures: (t, p) => ({
      expectedCostUsd: expectedCostUsd(t, p.estimatedInputTokens, p.expectedOutputTokens ?? 256) ?? null,
      p95LatencyMs: latency.p95(targetKey(t), now()) ?? null,
      circuit: breakers.peek(targetKey(t), now()).state,
    }),
    health: (providerId) => providerHealth(providerId, catalog, breakers, latency, now()),
  };

  return {
    ...compose(),
    /** The gateway's API with stages around it; without any, the calls above. */
    compose,
    /** The resolver requests go through (a budget's soft route is resolved with it too). */
    resolve: (req: GatewayRequest) => resolver.resolve(req),
    insights,
    breakers,
    latency,
    catalog,
    routes,
    completions: log,
    close: async () => {
      // A token counter handed in is shared (across config reloads) and closed by whoever made it.
      await Promise.all([registry.close(), deps.tokenCounter ? undefined : tokenCounter.close()]);
    },
  };
}

/**
 * The gateway as its composition root holds it: its API (without stages), the pipeline composer, and
 * the state and services the root hands to the APIs and the store's stages. The APIs get `Services`.
 */
export type GatewayCore = ReturnType<typeof createGateway>;

/**
 * The services the APIs are given: `gateway` (the core's own calls unless the root composed a pipeline)
 * and the core's catalog, routes, completion log and insights, with the root's `extras` beside them.
 */
export function servicesOf(core: GatewayCore, gateway: Gateway = core, extras: Pick<Services, 'apiKeys' | 'usage' | 'metrics'> = {}): Services {
  return { gateway, catalog: core.catalog, routes: core.routes, completions: core.completions, insights: core.insights, ...extras };
}
