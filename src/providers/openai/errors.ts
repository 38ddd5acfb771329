import { GatewayError, type ErrorKind } from '../../core/index.ts';
import type { HttpResponse } from '../shared/http-client.ts';
import {
  kindOfStatus,
  looksLikeContextLength,
  providerHttpError,
  retryAfterMs,
  tryParseJson,
  type ErrorMapper,
  type ProviderErrorInfo,
} from '../shared/http-errors.ts';
import { ErrorEnvelopeWire } from './wire.ts';

/** What we could read from an error envelope (any of the vendor shapes in wire.ts). */
interface ParsedError extends ProviderErrorInfo {
  type?: string | undefined;
  /** A numeric code some vendors use for the HTTP status of an error delivered in a 200 stream. */
  numericCode?: number | undefined;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** Messages may be objects (Mistral 422 `{"detail":[…]}`); keep them readable rather than drop them. */
function messageText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Pulls message/type/code/param out of whatever error shape the vendor sent. */
export function parseErrorBody(body: unknown): ParsedError | undefined {
  const parsed = ErrorEnvelopeWire.safeParse(body);
  if (!parsed.success) return undefined;
  const env = parsed.data;
  if (typeof env.error === 'string') return { message: env.error };
  const src = env.error ?? env;
  const message = messageText(src.message) ?? messageText(env.detail);
  if (message === undefined && src.type === undefined && src.code === undefined) return undefined;
  const code = str(src.code);
  const type = str(src.type);
  return {
    message: message ?? '',
    // The most specific identifier: `code` (context_length_exceeded, invalid_api_key…) over `type`.
    code: code ?? type,
    type,
    param: str(src.param),
    numericCode: typeof src.code === 'number' ? src.code : code !== undefined && /^\d{3}$/.test(code) ? Number(code) : undefined,
  };
}

/**
 * A wait the message itself asks for, when no header gave one: OpenAI's "Please try again in 174ms" /
 * "in 1.5s", Azure's "Please retry after 6 seconds".
 */
export function retryAfterFromMessage(message: string): number | undefined {
  const m = /(?:try again in|retry after)\s+(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|seconds?)\b/i.exec(message);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Math.round(m[2]!.toLowerCase().startsWith('m') ? n : n * 1000);
}

/** The kind a vendor code or type names, when it is more specific than the status. */
function kindOfCode(code: string | undefined, type: string | undefined): ErrorKind | undefined {
  for (const c of [code, type]) {
    switch (c) {
      case 'context_length_exceeded':
        return 'context_length_exceeded';
      // Azure's prompt filter (400, code content_filter) and OpenAI's image policy code.
      case 'content_filter':
      case 'content_policy_violation':
        return 'content_filter';
      case 'invalid_api_key':
      case 'authentication_error':
        return 'provider_auth';
      case 'model_not_found':
      case 'DeploymentNotFound':
        return 'not_found';
      case 'rate_limit_exceeded':
      case 'insufficient_quota':
        return 'rate_limited';
      default:
        break;
    }
  }
  return undefined;
}

/** The GatewayError for a non-2xx response, from its status, headers and body text. */
export function httpError(provider: string, res: Pick<HttpResponse, 'status' | 'headers'>, bodyText: string): GatewayError {
  const info = parseErrorBody(tryParseJson(bodyText)) ?? { message: bodyText.trim().slice(0, 500) };
  // A 403 (unsupported region, a key without access to the project) is the status's provider_auth too:
  // this deployment cannot serve the gateway, which is no fault of the client's key.
  const kind = kindOfCode(info.code, info.type);
  // Headers first (Retry-After / retry-after-ms); the message's own hint only when they say nothing.
  const wait =
    retryAfterMs(res.headers) ?? (res.status === 429 || res.status === 503 ? retryAfterFromMessage(info.message) : undefined);
  return providerHttpError(provider, res, { message: info.message, code: info.code, param: info.param, retryAfterMs: wait }, kind);
}

/**
 * An error delivered inside a 200 stream (`data: {"error":{…}}`, per the SDK). There is no status,
 * so the kind comes from the code/type, or from a numeric code that is an HTTP status (OpenRouter).
 */
export function streamError(provider: string, payload: unknown): GatewayError {
  const info = parseErrorBody(payload) ?? { message: 'error event in stream' };
  let kind = kindOfCode(info.code, info.type);
  if (!kind && info.numericCode !== undefined && info.numericCode >= 400) kind = kindOfStatus(info.numericCode);
  if (!kind && looksLikeContextLength(info.message, info.code)) kind = 'context_length_exceeded';
  if (!kind && info.type === 'invalid_request_error') kind = 'invalid_request';
  // Anything else that breaks a stream the server had accepted is on the server's side: retryable.
  if (!kind) kind = /overload/i.test(`${info.code ?? ''} ${info.message}`) ? 'overloaded' : 'unavailable';
  const wait = retryAfterFromMessage(info.message);
  return new GatewayError(kind, `${provider}: ${info.message || 'error event in stream'}`, {
    provider,
    ...(info.code !== undefined && { providerCode: info.code }),
    ...(info.param !== undefined && { param: info.param }),
    ...(wait !== undefined && { retryAfterMs: wait }),
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/**
 * This protocol's errors for the shared call layer. Some compatible servers answer 200 with an error
 * envelope instead of a status; in a stream, the SDK treats both an `error` event name and a
 * top-level `error` key as a failed stream.
 */
export function errorMapper(provider: string): ErrorMapper {
  return {
    http: (res, text) => httpError(provider, res, text),
    body: (json) =>
      isObject(json) && json.error != null && !('choices' in json) && !('data' in json) ? streamError(provider, json) : undefined,
    chunk: (json, event, data) => {
      if (event === 'error') return streamError(provider, json ?? { message: data });
      return isObject(json) && json.error != null ? streamError(provider, json) : undefined;
    },
  };
}
