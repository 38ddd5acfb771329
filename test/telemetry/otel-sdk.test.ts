import { describe, expect, it } from 'vitest';
import { boundedShutdown, createTelemetry } from '../../src/telemetry/otel-sdk.ts';
import { telemetryConfigFromEnv } from '../../src/telemetry/telemetry-config.ts';

describe('telemetry from the OTEL_* environment', () => {
  it('is off when no endpoint is set', () => {
    expect(telemetryConfigFromEnv({})).toMatchObject({ enabled: false, serviceName: 'switchboard', recordContent: false });
  });

  it('is on with an OTLP endpoint (general or traces-only)', () => {
    expect(telemetryConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toMatchObject({ enabled: true });
    expect(telemetryConfigFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces', OTEL_SERVICE_NAME: 'gw' })).toMatchObject({ enabled: true, serviceName: 'gw' });
  });

  it('honours OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none and the GenAI content switch', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(telemetryConfigFromEnv({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
    expect(telemetryConfigFromEnv({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
    expect(telemetryConfigFromEnv({ ...endpoint, OTEL_TRACES_EXPORTER: 'zipkin' }).enabled).toBe(false);
    expect(telemetryConfigFromEnv({ ...endpoint, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'TRUE' }).recordContent).toBe(true);
  });

  it('createTelemetry stays off (no-op tracer) without an endpoint', async () => {
    const t = await createTelemetry({});
    expect(t.enabled).toBe(false);
    expect(t.tracer.startSpan('x').spanContext().traceId).toBe('00000000000000000000000000000000');
    await t.shutdown();
  });

  it('with an endpoint, starts the NodeSDK: spans get real trace ids', async () => {
    const t = await createTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SERVICE_NAME: 'sb-test' });
    try {
      expect(t).toMatchObject({ enabled: true, reason: 'OTLP/HTTP export to http://127.0.0.1:1' });
      // Not ended, so nothing is exported to the unreachable endpoint (shutdown stays quick).
      expect(t.tracer.startSpan('x').spanContext().traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    } finally {
      // Nothing listens on port 1: the exporter's failure at shutdown is the SDK's to log, not ours to throw.
      await t.shutdown().catch(() => undefined);
    }
  });

  it('a shutdown the collector never answers resolves after its bound and logs once', async () => {
    const warned: unknown[][] = [];
    const logger = { warn: (...args: unknown[]) => void warned.push(args) };
    await expect(boundedShutdown(() => new Promise<void>(() => undefined), 50, logger as never)).resolves.toBeUndefined();
    expect(warned).toEqual([[{ err: 'no answer from the collector within 50 ms', timeoutMs: 50 }, 'tracing: spans not exported at shutdown']]);
  });

  it('an export failure is logged as one line with credentials masked', async () => {
    const warned: unknown[][] = [];
    const logger = { warn: (...args: unknown[]) => void warned.push(args) };
    const stop = () => Promise.reject(new Error('POST http://otel:hunter2-collector-pass@collector:4318/v1/traces failed: connect ECONNREFUSED'));
    await boundedShutdown(stop, 5_000, logger as never);
    expect(warned).toHaveLength(1);
    const [fields] = warned[0] as [{ err: string }];
    expect(fields.err).toContain('ECONNREFUSED');
    expect(JSON.stringify(warned)).not.toContain('hunter2-collector-pass');
  });

  it('the start-up reason never shows the password of an endpoint URL', () => {
    const reason = telemetryConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel:hunter2-collector-pass@collector:4318' }).reason;
    expect(reason).toContain('collector:4318');
    expect(reason).not.toContain('hunter2-collector-pass');
  });
});
