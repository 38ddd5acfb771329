import { trace, type Tracer } from '@opentelemetry/api';
import { redactSecrets } from '../core/redact-secrets.ts';
import type { Logger } from './logger.ts';
import { telemetryConfigFromEnv, type TelemetryConfig } from './telemetry-config.ts';

/**
 * The OpenTelemetry NodeSDK, started only when the OTEL_* environment asks for it (see
 * telemetry-config.ts): an OTLP/HTTP trace exporter (it reads OTEL_EXPORTER_OTLP_* itself: endpoint,
 * headers, timeout; the SDK reads OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and the propagators)
 * and the undici instrumentation, whose HTTP client spans nest under the provider call spans.
 *
 * The undici instrumentation listens on diagnostics channels, so start order does not matter; HTTP
 * server spans come from `withServerSpan` (server-span.ts), not from patching node:http, which under
 * ESM would need a loader hook.
 */
export interface Telemetry {
  config: TelemetryConfig;
  enabled: boolean;
  reason: string;
  /** The no-op tracer when disabled: spans cost nothing and trace ids are null. */
  tracer: Tracer;
  /**
   * Exports the spans still waiting and stops the SDK, for at most `timeoutMs` (default 5 s). Never rejects:
   * a collector that is gone or slow is logged once and must neither crash nor hold up the process's shutdown.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface TelemetryOptions {
  version?: string;
  /** Where a failed or timed-out export at shutdown is reported. */
  logger?: Pick<Logger, 'warn'> | undefined;
}

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;

/** An exporter error as one safe line: the message only (never the cause's request), credentials masked. */
function describeExportError(e: unknown): string {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return redactSecrets(text).slice(0, 500);
}

/** `stop()` within `timeoutMs`, its failure or time-out logged once; never rejects. */
export async function boundedShutdown(stop: () => Promise<void>, timeoutMs: number, logger: Pick<Logger, 'warn'> | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const problem = await Promise.race([
    Promise.resolve()
      .then(stop)
      .then(
        () => null,
        (e: unknown) => describeExportError(e),
      ),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer from the collector within ${timeoutMs} ms`), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (problem !== null) logger?.warn({ err: problem, timeoutMs }, 'tracing: spans not exported at shutdown');
}

export async function createTelemetry(env: Record<string, string | undefined> = process.env, opts: TelemetryOptions = {}): Promise<Telemetry> {
  const version = opts.version ?? '0.1.0';
  const config = telemetryConfigFromEnv(env);
  if (!config.enabled) {
    return { config, enabled: false, reason: config.reason, tracer: trace.getTracer('switchboard', version), shutdown: async () => {} };
  }
  // Loaded only when tracing is on: the SDK is a large module graph that a gateway without tracing never needs.
  const [{ NodeSDK }, { OTLPTraceExporter }, { UndiciInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/instrumentation-undici'),
  ]);
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [new UndiciInstrumentation()],
  });
  sdk.start();
  return {
    config,
    enabled: true,
    reason: config.reason,
    tracer: trace.getTracer('switchboard', version),
    shutdown: (timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS) => boundedShutdown(() => sdk.shutdown(), timeoutMs, opts.logger),
  };
}
