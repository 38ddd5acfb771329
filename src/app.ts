import type { Config } from './config/index.ts';
import { createGateway, type Gateway, type GatewayDeps } from './gateway/gateway-service.ts';
import { wireObservability, type ObservabilityWiringOptions } from './app-observability.ts';
import { wireStore } from './app-store.ts';
import { createProviderRegistry } from './providers/registry.ts';
import { startServer, type RunningServer } from './server/http-server.ts';
import type { Store } from './store/store.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';

export interface App {
  gateway: Gateway;
  server: RunningServer;
  logger: Logger;
  close(graceMs?: number): Promise<void>;
}

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
  const registry = createProviderRegistry(config.providers);
  const obs = await wireObservability({ config, logger, env: opts.env, ...opts.observability });
  // The APIs get the gateway with the store's features (idempotency → limits → cache) around it, and
  // usage, traces, metrics and request logs around those.
  const base = createGateway({ config, registry, pricing: obs.pricing, ...wiring.gatewayDeps, ...opts.gatewayDeps });
  const gateway = obs.observe(await wiring.serve(base, obs.tracingEnabled ? obs.tracer : undefined), base);
  const server = await startServer({ config, gateway, auth, logger, readiness: [wiring.readiness], metrics: obs.metrics, tracer: obs.tracingEnabled ? obs.tracer : undefined }, { host, port });
  return {
    gateway,
    server,
    logger,
    async close(graceMs) {
      await server.close(graceMs);
      await gateway.close();
      await obs.close();
      await wiring.close();
    },
  };
}
