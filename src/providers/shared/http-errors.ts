import type { z } from 'zod';
import { formatPath, GatewayError, issueMessage, toGatewayError, type ErrorKind } from '../../core/index.ts';
import { header, type HttpResponse } from './http-client.ts';

/**
 * How long a provider asked us to wait, from `retry-after-ms` (OpenAI), `retry-after` in seconds or as
 * an HTTP date (RFC 9110). Returns undefined when absent or unparsable.
 */
export function retryAfterMs(headers: HttpResponse['headers'], now: () => number = Date.now): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const ra = header(headers, 'retry-after');
  if (ra === undefined) return undefined;
  const trimmed = ra.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

/**
 * The kind an HTTP status means when the body says nothing more specific. A provider's 401/403 is about
 * the gateway's credentials for it, never the client's key: `provider_auth` (502, another target may work).
 */
export function kindOfStatus(status: number): ErrorKind {
  if (status === 401 || status === 403) return 'provider_auth';
  if (status === 404) return 'not_found';
  if (status === 408) return 'timeout';
  if (status === 413) return 'payload_too_large';
  if (status === 429) return 'rate_limited';
  if (status === 529) return 'overloaded';
  if (status === 503) return 'overloaded';
  if (status === 504) return 'timeout';
  if (status >= 500) return 'unavailable';
  if (status >= 400) return 'invalid_request';
  return 'invalid_response';
}

/** Context-window overflow, recognized in any vendor's wording. */
export function looksLikeContextLength(message: string, code?: string): boolean {
  if (code === 'context_length_exceeded') return true;
  return /context[ _-]?(length|window)|maximum context|prompt is too long|too many tokens|input token count.*exceeds|exceeds the maximum number of tokens/i.test(
    message,
  );
}

export interface ProviderErrorInfo {
  message: string;
  /** The vendor's error type or code, if any. */
  code?: string | undefined;
  param?: string | undefined;
  /** A retry delay the body carries (Gemini RetryInfo). */
  retryAfterMs?: number | undefined;
}

/**
 * Builds the GatewayError for a non-2xx response. Each adapter parses its own error envelope into
 * ProviderErrorInfo and may pass a kind it recognized from the body; otherwise the status decides.
 */
/** A provider refusing the signed reasoning sent back (Anthropic thinking blocks, Gemini thought signatures). */
const SIGNATURE_PROBLEM = /signature/i;
const REASONING_HINT =
  ' (the reasoning of an assistant turn — REST thinking_blocks, GraphQL reasoningParts — must be sent back exactly as this provider returned it)';

export function providerHttpError(
  provider: string,
  res: Pick<HttpResponse, 'status' | 'headers'>,
  info: ProviderErrorInfo,
  kind?: ErrorKind,
): GatewayError {
  let k = kind ?? kindOfStatus(res.status);
  if (k === 'invalid_request' && looksLikeContextLength(info.message, info.code)) k = 'context_length_exceeded';
  const wait = info.retryAfterMs ?? retryAfterMs(res.headers);
  const badSignature = k === 'invalid_request' && SIGNATURE_PROBLEM.test(info.message);
  const message =
    k === 'provider_auth'
      ? `${provider}: the provider rejected the gateway's credentials (HTTP ${res.status})${info.message ? `: ${info.message}` : ''}`
      : `${provider}: ${info.message || `HTTP ${res.status}`}${badSignature ? REASONING_HINT : ''}`;
  return new GatewayError(k, message, {
    provider,
    status: res.status,
    ...(info.code !== undefined && { providerCode: info.code }),
    ...(info.param !== undefined ? { param: info.param } : badSignature && { param: 'reasoningParts' }),
    ...(wait !== undefined && { retryAfterMs: wait }),
  });
}

/** Parses JSON text without throwing; undefined when it is not JSON. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * How one protocol turns failures into GatewayErrors. The shared call layer (post-json.ts,
 * stream-events.ts) owns when to ask; the adapter's errors.ts owns what its envelopes mean.
 */
export interface ErrorMapper {
  /** A non-2xx response, from its status, headers and body text ('' when the body could not be read). */
  http(res: Pick<HttpResponse, 'status' | 'headers'>, bodyText: string): GatewayError;
  /** A 2xx JSON body that is an error envelope instead of a reply; undefined when it is a reply. */
  body?(json: unknown): GatewayError | undefined;
  /**
   * A stream chunk that reports a failure: its JSON (undefined when it is not JSON), its SSE event
   * name and raw data. Undefined when it is an ordinary chunk.
   */
  chunk?(json: unknown, event: string | undefined, data: string): GatewayError | undefined;
}

/** A reply that breaks the protocol: not JSON, not the wire schema, a stream cut short. */
export function invalidResponse(provider: string, message: string, cause?: unknown): GatewayError {
  return new GatewayError('invalid_response', `${provider}: ${message}`, { provider, ...(cause !== undefined && { cause }) });
}

/** The first schema violation, short enough for an error message (`message.content: expected string`). */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${formatPath(issue.path)}: ${issueMessage(issue)}` : 'invalid';
}

/**
 * Anything a call threw, as the error to report: a GatewayError stays as it is but is attributed to
 * the provider (capability checks raise theirs without one); anything else is `internal`.
 */
export function asProviderError(err: unknown, provider: string): GatewayError {
  const e = toGatewayError(err, provider);
  return e.provider === undefined ? e.with({ provider }) : e;
}
