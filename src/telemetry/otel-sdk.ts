import { trace, type Tracer } from '@opentelemetry/api';
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
  shutdown(): Promise<void>;
}

export async function createTelemetry(env: Record<string, string | undefined> = process.env, version = '0.1.0'): Promise<Telemetry> {
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
    shutdown: () => sdk.shutdown(),
  };
}
