import type { Tracer } from '@opentelemetry/api';
import { resolveStoreConfig, type Config } from './config/index.ts';
import { withDeploymentQuotas, type DeploymentQuotas } from './gateway/deployment-quotas.ts';
import type { ApiKeyAdmin } from './gateway/services.ts';
import type { GatewayCore, GatewayDeps } from './gateway/gateway-service.ts';
import { shareRoutes } from './gateway/route-sync.ts';
import { createSharedRouterState, type SharedRouterState } from './gateway/shared-router-state.ts';
import type { Stage } from './gateway/pipeline.ts';
import { storeStages } from './gateway/store-stages.ts';
import { traceStore } from './gateway/trace-store.ts';
import { createInMemoryBreakerState } from './router/circuit-breaker.ts';
import { createAuthenticator, type Authenticator } from './server/authenticator.ts';
import { createStore } from './store/create-store.ts';
import type { Store } from './store/store.ts';
import type { Logger } from './telemetry/logger.ts';

export interface StoreWiringOptions {
  config: Config;
  logger: Logger;
  /** A store made elsewhere (tests); otherwise created from config `store` (or REDIS_URL). */
  store?: Store | undefined;
  /** For REDIS_URL; process.env by default. */
  env?: Record<string, string | undefined> | undefined;
}

export interface StoreWiring {
  store: Store;
  auth: Authenticator;
  /** Router state for createGateway: shared through the store when it is Redis. */
  gatewayDeps: Pick<GatewayDeps, 'breakers' | 'latency'>;
  /**
   * The store's stages of the gateway's pipeline (idempotency → limits → cache), runtime routes shared
   * through the store first. With a tracer, cache lookups and rate-limit decisions get spans of their own.
   */
  stages(gateway: GatewayCore, tracer?: Tracer): Promise<Stage[]>;
  /** Runtime API keys for the admin API (the authenticator learns of changes at once). */
  apiKeys: ApiKeyAdmin;
  /** For /readyz: null when fine, else which features run degraded (never the URL or credentials). */
  readiness(): Promise<string | null>;
  close(): Promise<void>;
}

/**
 * Everything that hangs off the store, wired once: the store itself, API-key authentication over config
 * and runtime keys, shared circuit breakers / latency windows / deployment limits for the router, the
 * request pipeline's store stages (idempotency → limits → cache) and runtime routes published to every instance.
 */
export function wireStore(opts: StoreWiringOptions): StoreWiring {
  const { config, logger } = opts;
  const storeConfig = resolveStoreConfig(config.store, opts.env ?? process.env);
  // The message is the feature and the operation; errors from the store never carry its URL.
  // Once per operation per 10 s: during an outage every request and every background refresh fails.
  const lastLogged = new Map<string, number>();
  const onError = (operation: string, e: unknown) => {
    const t = Date.now();
    if (t - (lastLogged.get(operation) ?? -Infinity) < 10_000) return;
    lastLogged.set(operation, t);
    logger.warn({ operation, err: e instanceof Error ? e.message : String(e) }, 'store unavailable');
  };
  const store =
    opts.store ??
    createStore(storeConfig, { onError: (message) => logger.warn({ backend: storeConfig.kind }, message) });
  const shared = store.kind === 'redis';
  const refreshMs = storeConfig.kind === 'redis' ? Math.max(100, storeConfig.localCacheMs) : 1_000;
  const now = () => performance.now();

  let routerState: SharedRouterState | undefined;
  if (shared) routerState = createSharedRouterState({ router: config.router, state: store.routerState, now, refreshMs, onError });
  const baseBreakers = routerState?.breakers ?? createInMemoryBreakerState(config.router.breaker);
  const deployments: DeploymentQuotas = withDeploymentQuotas(baseBreakers, {
    quotas: config.quotas,
    limits: store.limits,
    failure: config.store.failure.limits,
    refreshMs,
    onError,
  });
  const auth = createAuthenticator(config.keys, { store: store.apiKeys, keyCacheTtlMs: config.auth.keyCacheTtlMs, onError });
  let unsubscribeRoutes: (() => void) | undefined;

  return {
    store,
    auth,
    gatewayDeps: { breakers: deployments.breakers, ...(routerState && { latency: routerState.latency }) },
    async stages(gateway, tracer) {
      // Give a store that is still connecting a moment, so the first route snapshot usually succeeds.
      for (let i = 0; i < 40; i++) {
        if (await store.ping().then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      unsubscribeRoutes = await shareRoutes(gateway.routes, store.routes, onError);
      return storeStages({
        store: tracer ? traceStore(store, tracer) : store,
        config,
        routes: gateway.routes,
        resolve: gateway.resolve,
        onTokens: (deployment, tokens) => deployments.recordTokens(deployment, tokens),
        onStoreError: onError,
      });
    },
    apiKeys: {
      async create(input) {
        const created = await store.apiKeys.create(input);
        auth.remember(created.secret, created.key);
        return created;
      },
      async revoke(id) {
        const revoked = await store.apiKeys.revoke(id);
        auth.forget(id);
        return revoked;
      },
      list: () => store.apiKeys.list(),
    },
    async readiness() {
      const r = await store.readiness();
      if (r.status === 'ready') return null;
      const f = config.store.failure;
      // Names what runs degraded; `detail` is the store's own and never holds the URL or a password.
      return `store (${r.backend}) unavailable${r.detail ? ` [${r.detail}]` : ''}: response cache bypassed, idempotency skipped, rate limits fail ${f.limits}, budgets fail ${f.budgets}`;
    },
    async close() {
      unsubscribeRoutes?.();
      routerState?.close();
      deployments.close();
      auth.close();
      if (!opts.store) await store.close();
    },
  };
}
