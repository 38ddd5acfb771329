import { trace, type Tracer } from '@opentelemetry/api';
import { telemetryConfigFromEnv, type TelemetryConfig } from './telemetry-config.ts';

/**
 * The OpenTelemetry NodeSDK, started only when the OTEL_* environment asks for it. This is the one
 * file that needs the SDK packages (not yet dependencies):
 *   @opentelemetry/sdk-node, @opentelemetry/exporter-trace-otlp-http, @opentelemetry/instrumentation-undici
 * They are loaded with dynamic imports so the project builds and runs without them: when tracing is
 * asked for but they are missing, `createTelemetry` says so in `reason` and tracing stays off.
 * Once they are installed, these imports can become static ones with the packages' own types.
 *
 * Start it before the app is imported: the undici instrumentation listens on diagnostics channels
 * (any order works), but HTTP server spans come from `withServerSpan` (server-span.ts), not from
 * patching node:http, which under ESM would need a loader hook.
 */
export interface Telemetry {
  config: TelemetryConfig;
  enabled: boolean;
  reason: string;
  /** The no-op tracer when disabled: spans cost nothing and trace ids are null. */
  tracer: Tracer;
  shutdown(): Promise<void>;
}

interface NodeSdkLike {
  start(): void;
  shutdown(): Promise<void>;
}
type Ctor<T> = new (opts?: Record<string, unknown>) => T;

// A variable specifier keeps TypeScript from resolving packages that are not installed yet.
const load = (specifier: string): Promise<Record<string, unknown>> => import(specifier) as Promise<Record<string, unknown>>;

export async function createTelemetry(env: Record<string, string | undefined> = process.env, version = '0.1.0'): Promise<Telemetry> {
  const config = telemetryConfigFromEnv(env);
  const off = (reason: string): Telemetry => ({
    config,
    enabled: false,
    reason,
    tracer: trace.getTracer('switchboard', version),
    shutdown: async () => {},
  });
  if (!config.enabled) return off(config.reason);

  let sdkMod: Record<string, unknown>;
  let exporterMod: Record<string, unknown>;
  let undiciMod: Record<string, unknown>;
  try {
    [sdkMod, exporterMod, undiciMod] = await Promise.all([
      load('@opentelemetry/sdk-node'),
      load('@opentelemetry/exporter-trace-otlp-http'),
      load('@opentelemetry/instrumentation-undici'),
    ]);
  } catch (e) {
    return off(`tracing requested (${config.reason}) but the OpenTelemetry SDK packages are not installed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const NodeSDK = sdkMod.NodeSDK as Ctor<NodeSdkLike>;
  const OTLPTraceExporter = exporterMod.OTLPTraceExporter as Ctor<unknown>;
  const UndiciInstrumentation = undiciMod.UndiciInstrumentation as Ctor<unknown>;

  // The exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) itself; the SDK reads
  // OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and the propagators.
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
