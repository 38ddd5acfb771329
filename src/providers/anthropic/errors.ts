import { GatewayError, type ErrorKind } from '../../core/index.ts';
import type { HttpResponse } from '../shared/http-client.ts';
import { looksLikeContextLength, providerHttpError, tryParseJson, type ErrorMapper } from '../shared/http-errors.ts';
import { ErrorEnvelopeWire, type ErrorObjectWire } from './wire.ts';

/**
 * Anthropic's `error.type` → our kind. The type is more precise than the status (a 400 can be a
 * context overflow, a mid-stream error has no status at all); unknown types fall back to the status.
 */
export function kindOfErrorType(type: string | undefined): ErrorKind | undefined {
  switch (type) {
    // The gateway's key is refused: provider_auth, so the client is never told its own key is bad.
    case 'authentication_error':
    case 'permission_error':
      return 'provider_auth';
    // Out of credit: this account cannot be served until someone pays, so retrying here is pointless.
    case 'billing_error':
      return 'forbidden';
    case 'not_found_error':
      return 'not_found';
    case 'request_too_large':
      return 'payload_too_large';
    case 'rate_limit_error':
      return 'rate_limited';
    case 'overloaded_error':
      return 'overloaded';
    case 'api_error':
      return 'unavailable';
    case 'timeout_error':
      return 'timeout';
    case 'invalid_request_error':
      return 'invalid_request';
    default:
      return undefined;
  }
}

/** "input length and `max_tokens` exceed context limit" is not caught by the shared wording check. */
function isContextOverflow(message: string): boolean {
  return looksLikeContextLength(message) || /exceed(s)? (the )?context limit/i.test(message);
}

/** Error bodies from Cloudflare (413) or proxies can be HTML; keep the message short and header-free. */
function snippet(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

function parseEnvelope(text: string): ErrorObjectWire | undefined {
  const parsed = ErrorEnvelopeWire.safeParse(tryParseJson(text));
  return parsed.success ? parsed.data.error : undefined;
}

/** A non-2xx response → GatewayError (status, error.type, retry-after, context overflow). */
export function httpError(provider: string, res: Pick<HttpResponse, 'status' | 'headers'>, bodyText: string): GatewayError {
  const err = parseEnvelope(bodyText);
  const message = err?.message ?? snippet(bodyText);
  let kind = kindOfErrorType(err?.type);
  if ((kind === 'invalid_request' || (kind === undefined && res.status === 400)) && isContextOverflow(message)) {
    kind = 'context_length_exceeded';
  }
  const spendLimit = err?.details?.error_code === 'enforced_spend_limit_reached';
  const e = providerHttpError(provider, res, { message, code: spendLimit ? 'enforced_spend_limit_reached' : err?.type }, kind);
  // A spend limit is a 429 that no amount of waiting fixes (the reference says: do not retry).
  return spendLimit ? e.with({ retryable: false }) : e;
}

/** An `event: error` after the stream started, or an error envelope under a 200 status. */
export function streamError(provider: string, err: ErrorObjectWire): GatewayError {
  const message = err.message ?? err.type;
  let kind = kindOfErrorType(err.type) ?? 'unavailable';
  if (kind === 'invalid_request' && isContextOverflow(message)) kind = 'context_length_exceeded';
  return new GatewayError(kind, `${provider}: ${message}`, { provider, providerCode: err.type });
}

/**
 * This protocol's errors for the shared call layer. An `error` event is accepted whatever its inner
 * framing, so the real failure is not hidden behind a parse error; an error event inside the ordinary
 * event schema (`type: "error"`) is mapped by the stream itself.
 */
export function errorMapper(provider: string): ErrorMapper {
  return {
    http: (res, text) => httpError(provider, res, text),
    body: (json) => {
      const env = ErrorEnvelopeWire.safeParse(json);
      return env.success && env.data.type === 'error' ? streamError(provider, env.data.error) : undefined;
    },
    chunk: (json, event) => {
      if (event !== 'error') return undefined;
      const env = ErrorEnvelopeWire.safeParse(json);
      return env.success ? streamError(provider, env.data.error) : undefined;
    },
  };
}
