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
import { createBudgetAlerts, type BudgetAlerts } from './governance/budget-alerts.ts';
import { createGovernance, type Governance } from './governance/governance.ts';
import { configQuotas, createQuotaBook, type QuotaBook } from './governance/quota-book.ts';
import { createTeamDirectory } from './governance/team-directory.ts';
import { createWebhookSender } from './governance/webhook.ts';
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
  /** Teams, budget lines and budget events for the API. */
  governance: Governance;
  /**
   * The config's quotas as the limits stage and the budgets query read them: a config reload calls
   * `quotaBook.replace(configQuotas(next.quotas, next.teams))`.
   */
  quotaBook: QuotaBook;
  /**
   * A config reload's share of the store wiring: config keys, quotas (keys, teams, org, providers, routes) and
   * deployment limits are swapped; counters, reservations and runtime keys are the store's and carry over. Throws
   * (changing nothing) for what only a restart can change (local mode on or off).
   */
  reloadConfig(next: Config): void;
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
  const quotaBook = createQuotaBook(configQuotas(config.quotas, config.teams));
  // Runtime teams change as rarely as keys and reach the other instances on the same schedule.
  const teams = createTeamDirectory({ store: store.teams, refreshMs: config.auth.keyCacheTtlMs, onError });
  const hook = config.alerts;
  const alerts: BudgetAlerts = createBudgetAlerts({
    bus: store.alerts,
    webhook: hook && createWebhookSender({ url: hook.webhookUrl, secret: hook.secret, maxAttempts: hook.maxAttempts, timeoutMs: hook.timeoutMs, logger }),
    onError,
  });
  const governance = createGovernance({ book: quotaBook, teams, apiKeys: store.apiKeys, budgets: store.budgets, limits: store.limits, alerts });

  return {
    store,
    auth,
    gatewayDeps: { breakers: deployments.breakers, ...(routerState && { latency: routerState.latency }) },
    async stages(gateway, tracer) {
      // Once, at start: a config reload builds stages for its new gateway over the same route table.
      if (!unsubscribeRoutes) {
        // Give a store that is still connecting a moment, so the first route snapshot usually succeeds.
        for (let i = 0; i < 40; i++) {
          if (await store.ping().then(() => true, () => false)) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        unsubscribeRoutes = await shareRoutes(gateway.routes, store.routes, onError);
        await teams.refresh();
      }
      return storeStages({
        store: tracer ? traceStore(store, tracer) : store,
        config,
        routes: gateway.routes,
        resolve: gateway.resolve,
        onTokens: (deployment, tokens) => deployments.recordTokens(deployment, tokens),
        onStoreError: onError,
        quotaBook,
        teams,
        onBudgetAlerts: (fired, subjectOf) => alerts.fire(fired, subjectOf),
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
      async update(id, update) {
        const key = await store.apiKeys.update(id, update);
        if (key) auth.update(key);
        return key;
      },
    },
    governance,
    quotaBook,
    reloadConfig(next) {
      // Keys first: it is the step that can refuse, and nothing may change when it does.
      auth.replaceConfigKeys(next.keys);
      quotaBook.replace(configQuotas(next.quotas, next.teams));
      deployments.replace(next.quotas.deployments);
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
      teams.close();
      await alerts.close();
      if (!opts.store) await store.close();
    },
  };
}
