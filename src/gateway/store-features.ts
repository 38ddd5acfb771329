import type { Config } from '../config/index.ts';
import type { Store } from '../store/store.ts';
import type { PriceTable } from '../usage/pricing.ts';
import { authorizePin, authorizeRoute, pinnableDeployments } from './access-rule.ts';
import type { CatalogModel } from './catalog.ts';
import type { Completion, CompletionEvent, GatewayRequest, Principal } from './completion.ts';
import type { Gateway } from './gateway-service.ts';
import type { Handlers, StoreRequest } from './handlers.ts';
import { withCache } from './with-cache.ts';
import { withIdempotency } from './with-idempotency.ts';
import { estimateCostUsd, withLimits } from './with-limits.ts';

export interface StoreFeaturesDeps {
  gateway: Gateway;
  store: Store;
  config: Config;
  /** Real tokens of each finished upstream call, by deployment (`provider/model`), for deployment TPM. */
  onTokens?: ((deployment: string, tokens: number) => void) | undefined;
  /** A store failure handled under its feature's policy (for the logger). */
  onStoreError?: ((operation: string, error: unknown) => void) | undefined;
}

/** A route or model a request targets, as the gateway will resolve it (`entries`: every deployment of a pinned model). */
type Resolved = { kind: 'route'; name: string; targets: readonly { provider: string; model: string }[] } | { kind: 'model'; ref: string; entries: readonly CatalogModel[] };

/**
 * The gateway with the store's features around `complete` and `stream`:
 * withIdempotency → withLimits → withCache → gateway (everything else is the gateway's own API).
 * Idempotency is outermost so a replay costs no rate-limit units and no budget; limits come before the
 * cache so a hit still counts as a request (RPM) but settles at $0 and 0 tokens.
 */
export function withStoreFeatures(deps: StoreFeaturesDeps): Gateway {
  const { gateway, store, config } = deps;
  const quotas = config.quotas;

  function resolveTarget(req: GatewayRequest): Resolved | undefined {
    if (req.model !== undefined) {
      const named = gateway.routes.get(req.model);
      if (named && req.route === undefined) return { kind: 'route', name: named.route.name, targets: named.route.targets };
      const entries = gateway.catalog.resolveModel(req.model);
      if (entries.length === 0) return undefined;
      return { kind: 'model', ref: req.model, entries };
    }
    const name = req.route ?? config.defaults.route;
    const found = gateway.routes.get(name);
    return found ? { kind: 'route', name, targets: found.route.targets } : undefined;
  }

  /** The gateway's own rule, applied before a cached answer is served (a hit never reaches the gateway). */
  function authorize(req: StoreRequest): void {
    const p: Principal | undefined = req.principal;
    if (!p) return;
    const r = resolveTarget(req);
    if (r?.kind === 'route') authorizeRoute(p, r.name);
    if (r?.kind === 'model') authorizePin(p, r.ref, r.entries, gateway.routes);
  }

  /** The deployments a request may run on, as the gateway will plan them. */
  function targetsOf(req: StoreRequest): readonly { provider: string; model: string }[] {
    const r = resolveTarget(req);
    if (r?.kind !== 'model') return r?.targets ?? [];
    return pinnableDeployments(req.principal, r.entries, gateway.routes).map((e) => ({ provider: e.provider.id, model: e.model.id }));
  }

  function partition(req: StoreRequest): string | undefined {
    switch (config.cache.partition) {
      case 'none':
        return undefined;
      case 'team':
        return `team:${req.principal?.team ?? ''}`;
      case 'key':
        return `key:${req.principal?.name ?? ''}`;
    }
  }

  /** The most the request can cost: estimated input + max output at the dearest priced target it may use. */
  function estimate(req: StoreRequest): number | null {
    let most: number | null = null;
    for (const t of targetsOf(req)) {
      const price: PriceTable | undefined = gateway.catalog.get(t.provider, t.model)?.model.price;
      if (!price) continue;
      const cost = estimateCostUsd(req.chat, price, quotas.defaultMaxOutputTokens);
      most = Math.max(most ?? 0, cost);
    }
    return most;
  }

  /** Past a budget's soft threshold: the key's (else the team's) `softRoute`, for requests on a route. */
  function onSoftBudget(req: StoreRequest): StoreRequest | undefined {
    const p = req.principal;
    const soft = (p && quotas.keys[p.name]?.budget?.softRoute) ?? (p?.team !== undefined ? quotas.teams[p.team]?.budget?.softRoute : undefined);
    if (!soft || !gateway.routes.get(soft)) return undefined;
    if (resolveTarget(req)?.kind !== 'route') return undefined;
    return { ...req, route: soft, model: undefined };
  }

  const onStoreError = deps.onStoreError;

  /** Innermost: the gateway itself, reporting each finished call's tokens for deployment TPM. */
  const upstream: Handlers<StoreRequest> = {
    async complete(req) {
      const c = await gateway.complete(req);
      tokens(c);
      return c;
    },
    stream(req): AsyncIterable<CompletionEvent> {
      // Without deployment quotas there is nobody to tell the tokens to: no generator layer of ours.
      return deps.onTokens && hasDeploymentQuotas ? countTokens(gateway.stream(req)) : gateway.stream(req);
    },
  };
  const hasDeploymentQuotas = Object.keys(quotas.deployments).length > 0;
  async function* countTokens(events: AsyncIterable<CompletionEvent>): AsyncGenerator<CompletionEvent> {
    for await (const ev of events) {
      if (ev.type === 'done') tokens(ev.completion);
      yield ev;
    }
  }
  function tokens(c: Completion): void {
    if (!c.cached) deps.onTokens?.(`${c.provider}/${c.model}`, c.usage.inputTokens + c.usage.outputTokens);
  }

  const handlers = withIdempotency<StoreRequest>(store, { ttlSeconds: config.idempotency.ttlSeconds, waitMs: config.idempotency.waitMs, onStoreError })(
    withLimits<StoreRequest>(store, { quotas, failure: config.store.failure, estimateCostUsd: estimate, onSoftBudget, onStoreError })(
      withCache<StoreRequest>(store, { config: config.cache, authorize, partition, onStoreError })(upstream),
    ),
  );

  /**
   * A route named in `model` (how REST clients name routes) is the same request as one naming it in
   * `route` (GraphQL): one form, so both APIs share cache entries and in-flight calls.
   */
  function normalize(req: StoreRequest): StoreRequest {
    if (req.model === undefined || req.route !== undefined || !gateway.routes.get(req.model)) return req;
    return { ...req, route: req.model, model: undefined };
  }

  return {
    ...gateway,
    complete: (req: GatewayRequest) => handlers.complete(normalize(req)),
    // The APIs iterate it with for-await; observability (outermost) wraps it in its own generator.
    stream: (req: GatewayRequest) => handlers.stream(normalize(req)) as AsyncGenerator<CompletionEvent>,
  };
}
