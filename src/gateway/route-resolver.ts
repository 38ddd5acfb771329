import type { RouteConfig } from '../config/index.ts';
import { estimateInputTokens, GatewayError, type ChatRequest, type Principal } from '../core/index.ts';
import type { Target } from '../router/route-plan.ts';
import type { RouteTable, VersionedRoute } from '../router/route-table.ts';
import type { Catalog } from './catalog.ts';
import { authorizePin, authorizeRoute } from './access-rule.ts';
import type { GatewayRequest } from './gateway-request.ts';

/** USD of `inputTokens` in and `outputTokens` out at `price` (USD per million tokens). */
export function costAtUsd(inputTokens: number, outputTokens: number, price: { input: number; output: number }): number {
  return (inputTokens * price.input + outputTokens * price.output) / 1e6;
}

/**
 * A request resolved at the front of the pipeline, once: every later stage (cache key, idempotency hash,
 * limits, budgets) and the gateway's planning read it instead of looking the route up again. Building
 * one decides access (access-rule.ts): a request the key may not make never resolves.
 */
export class ResolvedRequest {
  readonly principal: Principal | undefined;
  /** `route`: a named route (the default one when the request names none); `model`: a pinned model's deployments. */
  readonly kind: 'route' | 'model';
  /** The route it runs on: the named route, or a synthetic `model:<ref>` route over the deployments the key may pin. */
  readonly route: RouteConfig;
  readonly version: number;
  /** The route's targets as the router plans them; for a pinned model only the deployments the key may pin. */
  readonly targets: readonly Target[];
  /**
   * Where the request goes, as the client named it, with a route named in `model` (how REST clients name
   * routes) counted as `route`: the cache key and the idempotency hash read these, so a request naming a
   * route either way is the same request to both.
   */
  readonly namedRoute: string | undefined;
  readonly namedModel: string | undefined;
  readonly #chat: ChatRequest;
  /** Counted on first use: a cache hit without budgets never needs it. */
  #inputTokens = -1;

  // Positional: one of these is made per request, and an options object would be a second allocation.
  constructor(
    chat: ChatRequest,
    principal: Principal | undefined,
    kind: 'route' | 'model',
    route: RouteConfig,
    version: number,
    targets: readonly Target[],
    namedRoute: string | undefined,
    namedModel: string | undefined,
  ) {
    this.#chat = chat;
    this.principal = principal;
    this.kind = kind;
    this.route = route;
    this.version = version;
    this.targets = targets;
    this.namedRoute = namedRoute;
    this.namedModel = namedModel;
  }

  /** The chars/4 estimate of the input tokens (estimateInputTokens), for planning, TPM and the cost estimate alike. */
  get inputTokens(): number {
    if (this.#inputTokens < 0) this.#inputTokens = estimateInputTokens(this.#chat);
    return this.#inputTokens;
  }

  /** The most the request can cost: estimated input + max output at the dearest priced target; null when none is priced. */
  maxCostUsd(defaultMaxOutputTokens: number): number | null {
    const output = this.#chat.maxOutputTokens ?? defaultMaxOutputTokens;
    let most: number | null = null;
    for (const t of this.targets) {
      if (t.price) most = Math.max(most ?? 0, costAtUsd(this.inputTokens, output, t.price));
    }
    return most;
  }
}

export interface RouteResolverDeps {
  catalog: Catalog;
  routes: RouteTable;
  /** The route used when a request names neither a route nor a model (config `defaults.route`). */
  defaultRoute: string;
}

export interface RouteResolver {
  /** Throws `not_found` (unknown route or model) or `forbidden` (the key may not use it). */
  resolve(req: GatewayRequest): ResolvedRequest;
}

/**
 * Where a request may go before any planning: the named route, the route named in `model` (REST clients
 * put route names there), or a synthetic route over the deployments of a pinned model — each checked
 * against what the caller's key may use (access-rule.ts); a pinned model runs only on the deployments the
 * key may pin.
 */
export function createRouteResolver(deps: RouteResolverDeps): RouteResolver {
  const { catalog, routes } = deps;

  function onRoute(req: GatewayRequest, found: VersionedRoute, namedRoute: string | undefined): ResolvedRequest {
    authorizeRoute(req.principal, found.route.name);
    return new ResolvedRequest(req.chat, req.principal, 'route', found.route, found.version, catalog.targetsOf(found.route), namedRoute, undefined);
  }

  function resolve(req: GatewayRequest): ResolvedRequest {
    if (req.model !== undefined) {
      const named = routes.get(req.model);
      // REST clients put route names in `model`; a route wins over a model of the same name.
      if (named && req.route === undefined) return onRoute(req, named, req.model);
      const known = catalog.resolveModel(req.model);
      if (known.length === 0) {
        throw new GatewayError('not_found', `unknown model or route "${req.model}"`, { param: 'model' });
      }
      const entries = authorizePin(req.principal, req.model, known, routes);
      const route: RouteConfig = {
        name: `model:${req.model}`,
        strategy: 'priority',
        targets: entries.map((e) => ({ provider: e.provider.id, model: e.model.id, weight: 1 })),
        maxAttempts: Math.max(2, entries.length * 2),
        deadlineMs: 120_000,
        resumeStreams: false,
        onContentFilter: 'stop',
        expectedOutputTokens: 256,
      };
      return new ResolvedRequest(req.chat, req.principal, 'model', route, 0, entries.map((e) => e.target), req.route, req.model);
    }
    const name = req.route ?? deps.defaultRoute;
    const found = routes.get(name);
    if (!found) throw new GatewayError('not_found', `unknown route "${name}"`, { param: 'route' });
    return onRoute(req, found, req.route);
  }

  return { resolve };
}
