import type { Config } from '../config/index.ts';
import { configQuotas, createQuotaBook, type QuotaBook } from '../governance/quota-book.ts';
import type { TeamLookup } from '../governance/team-directory.ts';
import type { Store } from '../store/store.ts';
import type { RouteLookup } from './access-rule.ts';
import { cacheStage } from './cache-stage.ts';
import type { GatewayRequest } from './gateway-request.ts';
import { idempotencyStage } from './idempotency-stage.ts';
import { limitsStage, type LimitsStageOptions } from './limits-stage.ts';
import type { Stage } from './pipeline.ts';
import type { RequestContext } from './request-context.ts';
import type { ResolvedRequest } from './route-resolver.ts';

export interface StoreStagesDeps {
  store: Store;
  config: Config;
  routes: RouteLookup;
  /** The gateway's resolver: a request moved to a budget's soft route is resolved there (access included). */
  resolve: (req: GatewayRequest) => ResolvedRequest;
  /** Real tokens of each finished upstream call, by deployment (`provider/model`), for deployment TPM. */
  onTokens?: ((deployment: string, tokens: number) => void) | undefined;
  /** A store failure handled under its feature's policy (for the logger). */
  onStoreError?: ((operation: string, error: unknown) => void) | undefined;
  /** The config's quotas (swapped on a config reload); by default built once from `config`. */
  quotaBook?: QuotaBook | undefined;
  /** Runtime teams. */
  teams?: TeamLookup | undefined;
  /** Budget alerts this instance fires. */
  onBudgetAlerts?: LimitsStageOptions['onBudgetAlerts'];
}

/**
 * The store's stages, outermost first: idempotency → limits → cache (→ deployment tokens).
 * Idempotency is outermost so a replay costs no rate-limit units and no budget; limits come before the
 * cache so a hit still counts as a request (RPM) but settles at $0 and 0 tokens. They run after the
 * request was resolved and read its resolution (cache key, cost estimate) instead of resolving again.
 */
export function storeStages(deps: StoreStagesDeps): Stage[] {
  const { store, config, routes, onStoreError } = deps;
  const quotas = config.quotas;

  function partition(ctx: RequestContext): string | undefined {
    const p = ctx.request.principal;
    switch (config.cache.partition) {
      case 'none':
        return undefined;
      case 'team':
        return `team:${p?.team ?? ''}`;
      case 'key':
        return `key:${p?.name ?? ''}`;
    }
  }

  /** Past a budget's soft threshold: the `softRoute` the limits stage found in the request's quotas, for requests on a route. */
  function onSoftBudget(ctx: RequestContext, soft: string | undefined): ResolvedRequest | undefined {
    if (!soft || !routes.get(soft) || ctx.resolved.kind !== 'route') return undefined;
    // A second resolution, of a different request: the one the budget moved to its soft route.
    return deps.resolve({ ...ctx.request, route: soft, model: undefined });
  }

  const stages: Stage[] = [
    idempotencyStage(store, { ttlSeconds: config.idempotency.ttlSeconds, waitMs: config.idempotency.waitMs, onStoreError }),
    limitsStage(store, {
      quotaBook: deps.quotaBook ?? createQuotaBook(configQuotas(quotas, config.teams)),
      teams: deps.teams,
      failure: config.store.failure,
      onSoftBudget,
      onBudgetAlerts: deps.onBudgetAlerts,
      onStoreError,
    }),
    cacheStage(store, { config: config.cache, partition, onStoreError }),
  ];
  const onTokens = deps.onTokens;
  // Without deployment quotas there is nobody to tell the tokens to: no stage.
  if (onTokens && Object.keys(quotas.deployments).length > 0) {
    stages.push({
      name: 'deployment-tokens',
      // Innermost, so only an upstream call's completion reaches it (a cache hit or a replay answered further out).
      done(_ctx, c) {
        if (!c.cached) onTokens(`${c.provider}/${c.model}`, c.usage.inputTokens + c.usage.outputTokens);
      },
    });
  }
  return stages;
}
