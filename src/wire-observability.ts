import type { Tracer } from '@opentelemetry/api';
import { resolveStoreConfig, type Config } from './config/index.ts';
import type { GatewayCore } from './gateway/gateway-service.ts';
import { observabilityStages, RecordQueue } from './gateway/observability-stage.ts';
import type { Stage } from './gateway/pipeline.ts';
import { connectRedisLedgerSink } from './store/redis-ledger-sink.ts';
import type { Logger } from './telemetry/logger.ts';
import { createMetrics } from './telemetry/metrics.ts';
import { createTelemetry, type Telemetry } from './telemetry/otel-sdk.ts';
import type { ProviderDescription } from './telemetry/tracing.ts';
import type { LedgerSink, UsageEvent } from './core/index.ts';
import type { UsageAnalytics } from './gateway/services.ts';
import { MemoryLedgerSink } from './usage/memory-ledger-sink.ts';
import { configPriceEntries, createPricing } from './usage/pricing.ts';
import { createUsageLedger, type UsageLedger } from './usage/usage-ledger.ts';
import type { DurableLedger } from './wire-durable-ledger.ts';


export interface ObservabilityWiringOptions {
  config: Config;
  logger: Logger;
  env?: Record<string, string | undefined> | undefined;
  /** A tracer made by the caller (tests: an SDK with an in-memory exporter); else the NodeSDK from OTEL_*. */
  tracer?: Tracer | undefined;
  /** A ledger sink made by the caller (tests); else memory or Redis, as config `store` says. */
  ledgerSink?: LedgerSink | undefined;
  /** Node's process metrics on /metrics (default true). */
  defaultMetrics?: boolean | undefined;
  /** The ledger's flush interval (default 1 s). */
  flushIntervalMs?: number | undefined;
}

function describeProviders(config: Config): (id: string) => ProviderDescription | undefined {
  const byId = new Map<string, ProviderDescription>();
  for (const p of config.providers) {
    let serverAddress: string | undefined;
    let serverPort: number | undefined;
    try {
      if (p.baseUrl) {
        const u = new URL(p.baseUrl);
        serverAddress = u.hostname;
        serverPort = u.port ? Number(u.port) : undefined;
      }
    } catch {
      // A base URL that does not parse names no server.
    }
    byId.set(p.id, { protocol: p.protocol, serverAddress, serverPort });
  }
  return (id) => byId.get(id);
}

/**
 * Usage ledger, pricing, traces, metrics and request logs, wired once. The ledger writes in memory for
 * the memory store and to Redis (its own connection, the store's prefix) for the Redis store, so
 * analytics are shared by every instance on that Redis.
 */
export async function wireObservability(opts: ObservabilityWiringOptions) {
  const { config, logger } = opts;
  const env = opts.env ?? process.env;
  const telemetry: Telemetry | undefined = opts.tracer ? undefined : await createTelemetry(env, { logger });
  if (telemetry) logger.info({ tracing: telemetry.enabled, reason: telemetry.reason }, 'tracing');
  const tracer = opts.tracer ?? telemetry!.tracer;
  const recordContent = telemetry?.config.recordContent ?? false;
  const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics ?? true });
  const pricing = createPricing({ entries: configPriceEntries(config) });

  let sink = opts.ledgerSink;
  let closeSink: (() => Promise<void>) | undefined;
  // From when the store's rollups hold everything: Redis keeps them across restarts, memory from now.
  let storeSince = Date.now();
  if (!sink) {
    const storeConfig = resolveStoreConfig(config.store, env);
    if (storeConfig.kind === 'redis') {
      const redis = connectRedisLedgerSink({
        url: storeConfig.url,
        prefix: storeConfig.prefix,
        connectTimeoutMs: storeConfig.connectTimeoutMs,
        onError: (message) => logger.warn({ backend: 'redis', feature: 'usage ledger' }, message),
      });
      sink = redis.sink;
      closeSink = redis.close;
      storeSince = 0;
    } else {
      sink = new MemoryLedgerSink();
    }
  }
  const ledger: UsageLedger = createUsageLedger({
    sink,
    flushIntervalMs: opts.flushIntervalMs,
    onDrop: metrics.recordDroppedEvents,
    onError: (e) => logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'usage ledger write failed; events kept for retry'),
  });
  metrics.observeLedgerBuffer(() => ledger.stats().buffered);
  // The durable ledger (config `ledger`, PostgreSQL): imported only when configured, so `pg` is never
  // loaded otherwise. The recorder feeds both ledgers (see wire-durable-ledger.ts for why two).
  let durable: DurableLedger | undefined;
  if (config.ledger) {
    const { wireDurableLedger } = await import('./wire-durable-ledger.ts');
    durable = await wireDurableLedger({ config: config.ledger, logger, storeSince, onDrop: metrics.recordDurableDroppedEvents });
    const durableLedger = durable.ledger;
    metrics.observeDurableLedgerBuffer(() => durableLedger.stats().buffered);
  }
  const recorder: { record(e: UsageEvent): void } = durable
    ? {
        record: (e) => {
          ledger.record(e);
          durable.ledger.record(e);
        },
      }
    : ledger;
  // Requests' records are written just after their responses; a flush writes those waiting first.
  const queue = new RecordQueue();
  const usage: UsageAnalytics = {
    sink: durable ? durable.events(sink) : sink,
    archive: durable?.archive,
    flush: () => {
      queue.drain();
      return durable ? Promise.all([ledger.flush(), durable.flushForRead()]).then(() => undefined) : ledger.flush();
    },
  };

  return {
    tracer,
    /** False when no tracer was given and no OTEL_* variable turned the SDK on: skip optional spans then. */
    tracingEnabled: Boolean(opts.tracer) || telemetry?.enabled === true,
    metrics,
    pricing,
    ledger,
    usage,
    /** Usage, metrics, logs and (when on) traces, as the outermost stages of the gateway's pipeline. */
    stages(gateway: GatewayCore): Stage[] {
      return observabilityStages({
        tracer,
        tracingEnabled: Boolean(opts.tracer) || telemetry?.enabled === true,
        recordContent,
        describeProvider: describeProviders(config),
        pricing,
        ledger: recorder,
        metrics,
        logger,
        completionLog: gateway.completions,
        circuitOf: (provider, model) => gateway.breakers.peek(`${provider}/${model}`, performance.now()).state,
        queue,
      });
    },
    /** Writes the records waiting and the ledger's buffer, then closes the ledger's own connection. */
    async close(): Promise<void> {
      queue.drain();
      // The durable ledger flushes beside the store's, not after it.
      const durableClosed = durable?.close();
      const stats = await ledger.close();
      if (stats.buffered > 0) logger.warn({ buffered: stats.buffered }, 'usage ledger: events not written at shutdown');
      await closeSink?.();
      await durableClosed;
    },
    /** Exports the spans still waiting, for at most `timeoutMs`; never rejects (a failure is logged once). */
    shutdownTracing(timeoutMs: number): Promise<void> {
      return telemetry?.shutdown(timeoutMs) ?? Promise.resolve();
    },
  };
}

export type ObservabilityWiring = Awaited<ReturnType<typeof wireObservability>>;
