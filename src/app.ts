import { ConfigError, type Config } from './config/index.ts';
import { createConfigReloader, longestDeadlineMs, noReload, runtimeRoutesWithout } from './config-reload.ts';
import { createGateway, servicesOf, type Gateway, type GatewayDeps } from './gateway/gateway-service.ts';
import type { ConfigReload, Services } from './gateway/services.ts';
import { createTokenCounter } from './gateway/token-counter.ts';
import { configPriceEntries } from './usage/pricing.ts';
import { wireObservability, type ObservabilityWiringOptions } from './wire-observability.ts';
import { wireStore } from './wire-store.ts';
import { redactSecrets } from './core/redact-secrets.ts';
import { createProviderRegistry } from './providers/registry.ts';
import { startServer, type RunningServer } from './server/http-server.ts';
import type { Store } from './store/store.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';

export interface App {
  /** The gateway behind the app's whole pipeline (what the APIs call). */
  gateway: Gateway;
  /** What the REST handlers and the GraphQL context are given: the gateway and the services beside it. */
  services: Services;
  server: RunningServer;
  logger: Logger;
  /**
   * Stops serving (open streams get `graceMs`, default `server.shutdownGraceMs`), then closes the gateway,
   * writes the usage ledger, closes the store and exports the last spans. Each step runs even if one before
   * it failed (the failure is logged); the span export gets what is left of the grace period, at least 1 s.
   * Calling it again returns the same promise.
   */
  close(graceMs?: number): Promise<void>;
  /** Re-reads the config (AppOptions.reload) and applies it; a bad one changes nothing and names every problem. */
  reloadConfig(trigger: string): Promise<ConfigReload>;
}

/** The least time the span export gets at shutdown, even when open streams used the whole grace period. */
const MIN_TRACE_FLUSH_MS = 1_000;

export interface AppOptions {
  config: Config;
  /** Overrides config.server host/port (tests use port 0). */
  listen?: { host?: string; port?: number };
  logger?: Logger;
  gatewayDeps?: Partial<Omit<GatewayDeps, 'config' | 'registry'>>;
  /** A store made by the caller (tests); by default one from config `store` (or REDIS_URL). */
  store?: Store;
  /** For REDIS_URL; process.env by default. */
  env?: Record<string, string | undefined>;
  /** Tests: a tracer (in-memory exporter), a ledger sink, no process metrics, a flush interval. */
  observability?: Omit<ObservabilityWiringOptions, 'config' | 'logger' | 'env'>;
  /** Where a config reload reads the config from (the CLI: the config file); no reloads without it. */
  reload?: { load: () => Promise<Config>; source: string } | undefined;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Wires config → provider registry → gateway → HTTP server. The one place the pieces meet. */
export async function createApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger();
  const host = opts.listen?.host ?? config.server.host;
  const port = opts.listen?.port ?? config.server.port;
  const wiring = wireStore({ config, logger, store: opts.store, env: opts.env });
  const { auth } = wiring;
  if (auth.localMode) {
    if (!isLoopback(host)) {
      await wiring.close();
      throw new Error(`refusing to listen on ${host} without API keys: add keys to the config or bind a loopback address`);
    }
    logger.warn('no API keys configured: local mode, every caller is admin (loopback only)');
  }
  const obs = await wireObservability({ config, logger, env: opts.env, ...opts.observability });
  const tracer = obs.tracingEnabled ? obs.tracer : undefined;
  // What a config reload replaces is built per generation; what it keeps (the route table with its runtime
  // routes and versions, the completion log, the tokenizer worker, breakers and latency windows) is shared.
  const tokenCounter = opts.gatewayDeps?.tokenCounter ?? createTokenCounter({ budgetMs: config.router.tokenCountBudgetMs });
  let shared: Pick<GatewayDeps, 'routes' | 'completions'> = {};
  const build = async (cfg: Config) => {
    // The gateway's own API keys are masked in provider errors too, should an upstream ever quote one.
    const registry = await createProviderRegistry(cfg.providers, { secrets: cfg.keys.map((k) => k.key) });
    const core = createGateway({ config: cfg, registry, pricing: obs.pricing, tokenCounter, ...shared, ...wiring.gatewayDeps, ...opts.gatewayDeps });
    shared = { routes: core.routes, completions: core.completions };
    // The APIs get the gateway behind one pipeline: traces, usage, metrics and request logs outermost (they
    // see every request), then the request's one resolution, then the store's stages (idempotency → limits
    // → cache).
    const gateway = core.compose({ outer: obs.stages(core), inner: await wiring.stages(core, tracer) });
    return { config: cfg, core, gateway };
  };
  let current = await build(config);
  // The APIs hold these two objects for the life of the process; a reload swaps what is inside them.
  const gateway: Gateway = { ...current.gateway };
  const services: Services = {
    ...servicesOf(current.core, gateway, { apiKeys: wiring.apiKeys, usage: obs.usage, metrics: obs.metrics }),
    governance: wiring.governance,
  };
  const retired = new Set<ReturnType<typeof setTimeout>>();
  const retiring: Array<() => Promise<void>> = [];
  const reloader = opts.reload && createConfigReloader({
    load: opts.reload.load,
    source: opts.reload.source,
    logger,
    started: config,
    async apply(next) {
      const orphans = runtimeRoutesWithout(current.core.routes, next);
      if (orphans.length > 0) throw new ConfigError(orphans, opts.reload!.source);
      const built = await build(next);
      try {
        wiring.reloadConfig(next);
      } catch (e) {
        await built.core.close();
        throw new ConfigError([(e as Error).message], opts.reload!.source);
      }
      obs.pricing.replace(configPriceEntries(next));
      const changedRoutes = built.core.routes.reloadConfig(next.routes);
      const old = current;
      current = built;
      Object.assign(gateway, built.gateway);
      Object.assign(services, servicesOf(built.core, gateway, { apiKeys: wiring.apiKeys, usage: obs.usage, metrics: obs.metrics }));
      // Requests already running keep the old adapters until they end: the old pools close after the longest
      // deadline the old routes allow (or at shutdown, whichever comes first).
      const closeOld = () => old.core.close();
      const t = setTimeout(() => {
        retired.delete(t);
        void closeOld().catch(() => undefined);
      }, longestDeadlineMs(old.config) + 5_000);
      t.unref();
      retired.add(t);
      retiring.push(closeOld);
      return { changedRoutes };
    },
  });
  if (reloader) services.configControl = reloader;
  const server = await startServer({ config, services, auth, logger, readiness: [wiring.readiness], tracer }, { host, port });
  const step = async (name: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (e) {
      logger.error({ step: name, err: redactSecrets(e instanceof Error ? `${e.name}: ${e.message}` : String(e)) }, 'shutdown step failed; continuing');
      return false;
    }
  };
  let closing: Promise<void> | undefined;
  const close = async (graceMs = config.server.shutdownGraceMs) => {
    const deadline = Date.now() + graceMs;
    await step('server', () => server.close(graceMs));
    await step('gateway', async () => {
      for (const t of retired) clearTimeout(t);
      await Promise.all([current.core.close(), ...retiring.map((close) => close().catch(() => undefined))]);
      if (!opts.gatewayDeps?.tokenCounter) await tokenCounter.close();
    });
    await step('usage ledger', () => obs.close());
    if (await step('store', () => wiring.close())) logger.info('store closed');
    await obs.shutdownTracing(Math.max(MIN_TRACE_FLUSH_MS, deadline - Date.now()));
  };
  return {
    gateway,
    services,
    server,
    logger,
    reloadConfig: (trigger) => (reloader ? reloader.reload(trigger) : Promise.resolve(noReload())),
    close: (graceMs) => (closing ??= close(graceMs)),
  };
}
