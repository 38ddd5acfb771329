import { PROVIDER_PROTOCOL_NAMES, PROVIDER_PROTOCOLS } from '../core/protocols.ts';

/**
 * Span attribute names. The GenAI ones are OpenTelemetry semantic conventions (still "development"
 * status, so they live in @opentelemetry/semantic-conventions/incubating, whose exports may change
 * between releases): the strings are copied here, as the semconv docs advise for incubating names.
 */
export const ATTR = {
  genAiSystem: 'gen_ai.system',
  genAiOperation: 'gen_ai.operation.name',
  genAiRequestModel: 'gen_ai.request.model',
  genAiResponseModel: 'gen_ai.response.model',
  genAiResponseId: 'gen_ai.response.id',
  genAiInputTokens: 'gen_ai.usage.input_tokens',
  genAiOutputTokens: 'gen_ai.usage.output_tokens',
  genAiFinishReasons: 'gen_ai.response.finish_reasons',
  genAiPrompt: 'gen_ai.prompt',
  genAiCompletion: 'gen_ai.completion',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',

  requestId: 'switchboard.request.id',
  stream: 'switchboard.request.stream',
  routeRequested: 'switchboard.route.requested',
  routeName: 'switchboard.route.name',
  routeVersion: 'switchboard.route.version',
  routeCandidates: 'switchboard.route.candidates',
  routeChosen: 'switchboard.route.chosen',
  routeReason: 'switchboard.route.reason',
  attempts: 'switchboard.attempts',
  fallbacks: 'switchboard.fallbacks',
  attemptNumber: 'switchboard.attempt.number',
  attemptProvider: 'switchboard.attempt.provider',
  attemptModel: 'switchboard.attempt.model',
  attemptStatus: 'switchboard.attempt.status',
  attemptRetryDelayMs: 'switchboard.attempt.retry_delay_ms',
  ttftMs: 'switchboard.ttft_ms',
  costUsd: 'switchboard.cost_usd',
  cacheHit: 'switchboard.cache.hit',
  rateLimitScope: 'switchboard.rate_limit.scope',
  rateLimitAllowed: 'switchboard.rate_limit.allowed',
  rateLimitRetryAfterMs: 'switchboard.rate_limit.retry_after_ms',
} as const;

/**
 * Our protocols and presets → the semconv `gen_ai.system` well-known values. Derived from the protocol
 * table, where every entry must name one, so no protocol can be left out of this map.
 */
export const GEN_AI_SYSTEM_OF_PROTOCOL: Readonly<Record<string, string>> = Object.fromEntries(
  PROVIDER_PROTOCOL_NAMES.map((p) => [p, PROVIDER_PROTOCOLS[p].genAiSystem]),
);
