import type { GatewayError } from '../../core/index.ts';
import { errorMapper as anthropicErrors, httpError as anthropicHttpError } from '../anthropic/errors.ts';
import { ErrorEnvelopeWire as AnthropicEnvelope } from '../anthropic/wire.ts';
import { kindOfRpcStatus, parseDuration, parseErrorEnvelope } from '../gemini/errors.ts';
import { ErrorEnvelopeSchema, type ErrorEnvelope } from '../gemini/wire.ts';
import type { HttpResponse } from '../shared/http-client.ts';
import { invalidResponse, providerHttpError, tryParseJson, type ErrorMapper } from '../shared/http-errors.ts';
import type { Publisher } from './paths.ts';

/**
 * Vertex AI failures → GatewayError. The platform answers in Google's `{error: {code, message, status, details}}`
 * (auth, quota, an unknown model, an unavailable service) for both publishers; Claude's own failures (a bad
 * request, an overload, a mid-stream error) keep Anthropic's envelope and go to the Anthropic mapper.
 */

function googleError(provider: string, res: Pick<HttpResponse, 'status' | 'headers'>, env: ErrorEnvelope | undefined): GatewayError {
  if (!env) return providerHttpError(provider, res, { message: `HTTP ${res.status}` });
  const details = env.error.details ?? [];
  const reason = details.find((d) => d.reason !== undefined)?.reason;
  // Vertex's 503 is the service, not one model's load: another target may be up.
  const kind = kindOfRpcStatus(env.error.status, undefined, 'unavailable');
  return providerHttpError(
    provider,
    res,
    {
      message: env.error.message || `HTTP ${res.status}`,
      code: reason ?? env.error.status,
      retryAfterMs: parseDuration(details.find((d) => d.retryDelay !== undefined)?.retryDelay),
    },
    kind,
  );
}

/** A non-2xx response, whichever envelope it is in. */
export function httpError(provider: string, res: Pick<HttpResponse, 'status' | 'headers'>, text: string): GatewayError {
  // Anthropic's error object has a string `type`; Google's has `code` and `status` instead.
  if (AnthropicEnvelope.safeParse(tryParseJson(text)).success) return anthropicHttpError(provider, res, text);
  return googleError(provider, res, parseErrorEnvelope(text));
}

/** A Google error object inside a 200 body or stream: its `code` stands for the status it would have had. */
function googleChunkError(provider: string, json: unknown): GatewayError | undefined {
  if (json === null || typeof json !== 'object' || !('error' in json)) return undefined;
  const env = ErrorEnvelopeSchema.safeParse(json);
  if (!env.success) return invalidResponse(provider, 'malformed error chunk in stream');
  const code = env.data.error.code;
  const status = code !== undefined && code >= 400 && code <= 599 ? code : 500;
  return googleError(provider, { status, headers: {} }, env.data);
}

/** The shared call layer's view of one publisher's errors. */
export function errorMapper(provider: string, publisher: Publisher): ErrorMapper {
  const http = (res: Pick<HttpResponse, 'status' | 'headers'>, text: string) => httpError(provider, res, text);
  if (publisher === 'anthropic') {
    const claude = anthropicErrors(provider);
    return { http, body: claude.body, chunk: claude.chunk };
  }
  return { http, body: (json) => googleChunkError(provider, json), chunk: (json) => googleChunkError(provider, json) };
}
