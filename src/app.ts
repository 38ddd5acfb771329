import type { Config } from './config/index.ts';
import { createGateway, servicesOf, type Gateway, type GatewayDeps } from './gateway/gateway-service.ts';
import type { Services } from './gateway/services.ts';
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
  // The gateway's own API keys are masked in provider errors too, should an upstream ever quote one.
  const registry = createProviderRegistry(config.providers, { secrets: config.keys.map((k) => k.key) });
  const obs = await wireObservability({ config, logger, env: opts.env, ...opts.observability });
  // The APIs get the gateway behind one pipeline: traces, usage, metrics and request logs outermost (they
  // see every request), then the request's one resolution, then the store's stages (idempotency → limits
  // → cache).
  const core = createGateway({ config, registry, pricing: obs.pricing, ...wiring.gatewayDeps, ...opts.gatewayDeps });
  const tracer = obs.tracingEnabled ? obs.tracer : undefined;
  const gateway = core.compose({ outer: obs.stages(core), inner: await wiring.stages(core, tracer) });
  const services = servicesOf(core, gateway, { apiKeys: wiring.apiKeys, usage: obs.usage, metrics: obs.metrics });
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
    await step('gateway', () => core.close());
    await step('usage ledger', () => obs.close());
    if (await step('store', () => wiring.close())) logger.info('store closed');
    await obs.shutdownTracing(Math.max(MIN_TRACE_FLUSH_MS, deadline - Date.now()));
  };
  return {
    gateway,
    services,
    server,
    logger,
    close: (graceMs) => (closing ??= close(graceMs)),
  };
}
