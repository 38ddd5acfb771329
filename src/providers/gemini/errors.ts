import type { ErrorKind, GatewayError } from '../../core/index.ts';
import type { HttpResponse } from '../shared/http-client.ts';
import { invalidResponse, providerHttpError, tryParseJson, type ErrorMapper, type ProviderErrorInfo } from '../shared/http-errors.ts';
import { ErrorEnvelopeSchema, type ErrorEnvelope } from './wire.ts';

/**
 * Gemini's google.rpc.Status envelope → GatewayError. The gRPC status name is more precise than the
 * HTTP status (an invalid key is a 400 here, not a 401), so it decides the kind when present.
 */

/** A protobuf Duration in JSON form ("2s", "34.4s", "0.5s") in milliseconds. */
export function parseDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(value);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/**
 * The envelope inside an error body. Besides the plain object, the non-SSE stream mode wraps it in an
 * array and an error inside an SSE body may keep its `data:` prefix; all three are accepted.
 */
export function parseErrorEnvelope(text: string): ErrorEnvelope | undefined {
  let candidate = tryParseJson(text.trim());
  if (candidate === undefined) {
    const data = text
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trim())
      .join('\n');
    if (data) candidate = tryParseJson(data);
  }
  if (Array.isArray(candidate)) candidate = candidate[0];
  const parsed = ErrorEnvelopeSchema.safeParse(candidate);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Google's RPC status → our kind; shared with Vertex AI, which differs in one status: Gemini's UNAVAILABLE is one
 * model's load (`overloaded`), Vertex's is the service (`unavailable`).
 */
export function kindOfRpcStatus(status: string | undefined, reason: string | undefined, unavailable: ErrorKind = 'overloaded'): ErrorKind | undefined {
  // The gateway's key is refused: provider_auth, so the client is never told its own key is bad.
  if (reason === 'API_KEY_INVALID' || reason === 'API_KEY_EXPIRED') return 'provider_auth';
  switch (status) {
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return 'provider_auth';
    case 'NOT_FOUND':
      return 'not_found';
    case 'RESOURCE_EXHAUSTED':
      return 'rate_limited';
    case 'UNAVAILABLE':
      // Gemini's 503 is "The model is overloaded. Please try again later."
      return unavailable;
    case 'INTERNAL':
    case 'UNKNOWN':
      return 'unavailable';
    case 'DEADLINE_EXCEEDED':
      return 'timeout';
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
    case 'OUT_OF_RANGE':
      // providerHttpError upgrades this to context_length_exceeded when the message says so.
      return 'invalid_request';
    default:
      return undefined;
  }
}

function infoOf(env: ErrorEnvelope | undefined, fallbackMessage: string): { info: ProviderErrorInfo; kind?: ErrorKind } {
  if (!env) return { info: { message: fallbackMessage } };
  const details = env.error.details ?? [];
  const reason = details.find((d) => d.reason !== undefined)?.reason;
  const retryDelay = details.find((d) => d.retryDelay !== undefined)?.retryDelay;
  const kind = kindOfRpcStatus(env.error.status, reason);
  return {
    info: {
      message: env.error.message || fallbackMessage,
      // The ErrorInfo reason (API_KEY_INVALID) says more than the status (INVALID_ARGUMENT) it refines.
      code: reason ?? env.error.status,
      // Body RetryInfo wins over a Retry-After header: it is Gemini's documented signal and has sub-second
      // precision ("34.4s"); whether Gemini also sends Retry-After is unverified, so the header (read by
      // providerHttpError) is only the fallback.
      retryAfterMs: parseDuration(retryDelay),
    },
    ...(kind !== undefined && { kind }),
  };
}

/** The GatewayError for a non-2xx response with body `text`. */
export function httpError(provider: string, res: Pick<HttpResponse, 'status' | 'headers'>, text: string): GatewayError {
  const env = parseErrorEnvelope(text);
  // A non-JSON body (an HTML page from a proxy) is summarized by status only: it says nothing useful.
  const { info, kind } = infoOf(env, `HTTP ${res.status}`);
  return providerHttpError(provider, res, info, kind);
}

/**
 * An `{"error": …}` object that arrived as a chunk of a 200 stream. Its `code` is the HTTP status the
 * failure would have had (js-genai raises it as that status), so it is classified like an HTTP error.
 */
export function streamChunkError(provider: string, env: ErrorEnvelope): GatewayError {
  const code = env.error.code;
  const status = code !== undefined && code >= 400 && code <= 599 ? code : 500;
  const { info, kind } = infoOf(env, 'error event in stream');
  // The 200 response's headers belong to the stream, not to this failure: only the body's RetryInfo counts.
  return providerHttpError(provider, { status, headers: {} }, info, kind);
}

function hasErrorKey(json: unknown): boolean {
  return json !== null && typeof json === 'object' && 'error' in json;
}

/** This protocol's errors for the shared call layer: an `{"error": …}` body or chunk is a failure. */
export function errorMapper(provider: string): ErrorMapper {
  return {
    http: (res, text) => httpError(provider, res, text),
    body: (json) => {
      if (!hasErrorKey(json)) return undefined;
      const env = ErrorEnvelopeSchema.safeParse(json);
      return env.success ? streamChunkError(provider, env.data) : undefined;
    },
    chunk: (json) => {
      if (!hasErrorKey(json)) return undefined;
      const env = ErrorEnvelopeSchema.safeParse(json);
      return env.success ? streamChunkError(provider, env.data) : invalidResponse(provider, 'malformed error chunk in stream');
    },
  };
}
