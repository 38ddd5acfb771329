import { z } from 'zod';
import { redactSecrets } from '../core/redact-secrets.ts';

/**
 * Whether tracing is on, decided from the standard OpenTelemetry environment variables only:
 * on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
 * off when none is, or when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Prompts and outputs
 * are recorded only with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true (the GenAI
 * instrumentations' own switch).
 */
export interface TelemetryConfig {
  enabled: boolean;
  /** Why it is on or off, for the start-up log line. */
  reason: string;
  serviceName: string;
  recordContent: boolean;
}

const flag = z
  .string()
  .optional()
  .transform((v) => v?.trim().toLowerCase() === 'true');

const EnvSchema = z.object({
  OTEL_SDK_DISABLED: flag,
  OTEL_TRACES_EXPORTER: z.string().optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().optional(),
  OTEL_SERVICE_NAME: z.string().optional(),
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: flag,
});

export function telemetryConfigFromEnv(env: Record<string, string | undefined>): TelemetryConfig {
  const e = EnvSchema.parse(env);
  const serviceName = e.OTEL_SERVICE_NAME?.trim() || 'switchboard';
  const recordContent = e.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT;
  const off = (reason: string): TelemetryConfig => ({ enabled: false, reason, serviceName, recordContent });
  if (e.OTEL_SDK_DISABLED) return off('OTEL_SDK_DISABLED=true');
  const exporters = (e.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (exporters.includes('none')) return off('OTEL_TRACES_EXPORTER=none');
  if (exporters.length > 0 && !exporters.includes('otlp')) return off(`OTEL_TRACES_EXPORTER=${e.OTEL_TRACES_EXPORTER} (only otlp is supported)`);
  const endpoint = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || e.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint) return off('no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set');
  // The reason is logged at start-up: an endpoint URL may carry credentials.
  return { enabled: true, reason: `OTLP/HTTP export to ${redactSecrets(endpoint)}`, serviceName, recordContent };
}
