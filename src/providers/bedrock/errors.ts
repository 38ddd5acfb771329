import { GatewayError, type ErrorKind } from '../../core/index.ts';
import { header, type HttpResponse } from '../shared/http-client.ts';
import { providerHttpError, tryParseJson, type ErrorMapper } from '../shared/http-errors.ts';
import { ErrorBodyWire } from './wire.ts';

/**
 * Bedrock Runtime errors → GatewayError. The error type (`x-amzn-errortype` header, else `__type` / `code` in
 * the body) decides the kind; the status is the fallback. The same types arrive mid-stream as exception frames
 * (`:exception-type: throttlingException`), so a broken stream fails with the kind its HTTP twin would have.
 */

/** A ValidationException that is a context-window overflow, in the wordings Bedrock's models use. */
const TOO_LONG =
  /too many (input )?tokens|input is too long|prompt is too long|too long for|maximum context length|context (length|window)|exceeds? the (model'?s? )?(maximum|context|max)|input length .* exceed/i;

/** The types that mean AWS refused the gateway's credentials or its signature. */
export const AUTH_ERROR_TYPES = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'ExpiredTokenException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
]);

/**
 * The bare type name: `ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/` (the header
 * form), `com.amazon.coral.validate#ValidationException` (the `__type` form) or `throttlingException` (an
 * event-stream member name) all give the Smithy shape name.
 */
export function errorTypeName(raw: string | null | undefined): string | undefined {
  if (!raw) return undefined;
  let t = raw.split(':')[0] ?? '';
  if (t.includes('#')) t = t.slice(t.lastIndexOf('#') + 1);
  t = t.trim();
  return t === '' ? undefined : t.charAt(0).toUpperCase() + t.slice(1);
}

/** The kind an error type names; undefined for a type we do not know (the status decides then). */
export function kindOfErrorType(type: string | undefined, message: string): ErrorKind | undefined {
  if (type === undefined) return undefined;
  if (AUTH_ERROR_TYPES.has(type)) return 'provider_auth';
  switch (type) {
    // ServiceQuotaExceeded is the account's quota (tokens or requests per minute): waiting, or another target, helps.
    case 'ThrottlingException':
    case 'ServiceQuotaExceededException':
      return 'rate_limited';
    // ModelError (424): the model failed while processing; another attempt may well succeed.
    case 'ServiceUnavailableException':
    case 'ModelNotReadyException':
    case 'InternalServerException':
    case 'InternalFailure':
    case 'ModelErrorException':
    case 'ModelStreamErrorException':
      return 'unavailable';
    case 'ModelTimeoutException':
      return 'timeout';
    case 'ResourceNotFoundException':
      return 'not_found';
    case 'ValidationException':
    case 'ConflictException':
      return TOO_LONG.test(message) ? 'context_length_exceeded' : 'invalid_request';
    default:
      return undefined;
  }
}

/** Proxies answer with HTML; keep the message short and free of their markup's bulk. */
function snippet(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

/** A non-2xx response → GatewayError. */
export function httpError(provider: string, res: Pick<HttpResponse, 'status' | 'headers'>, bodyText: string): GatewayError {
  const parsed = ErrorBodyWire.safeParse(tryParseJson(bodyText));
  const body = parsed.success ? parsed.data : undefined;
  const type = errorTypeName(header(res.headers, 'x-amzn-errortype') ?? body?.__type ?? body?.code);
  const message = body?.message ?? body?.Message ?? (body === undefined ? snippet(bodyText) : '');
  const kind = kindOfErrorType(type, message);
  return providerHttpError(provider, res, { message: message || (type ?? ''), code: type }, kind);
}

/** An exception frame in a 200 stream: the same types as HTTP errors, without a status or headers. */
export function streamException(provider: string, rawType: string, payload: unknown): GatewayError {
  const parsed = ErrorBodyWire.safeParse(payload);
  const type = errorTypeName(rawType) ?? 'UnknownError';
  const message = (parsed.success ? (parsed.data.message ?? parsed.data.Message) : undefined) ?? type;
  const kind = kindOfErrorType(type, message) ?? 'unavailable';
  return new GatewayError(kind, `${provider}: ${type}: ${message}`, { provider, providerCode: type });
}

/** This protocol's errors for the shared call layer: exception and error frames end a stream with their error. */
export function errorMapper(provider: string): ErrorMapper {
  return {
    http: (res, text) => httpError(provider, res, text),
    chunk: (json, event) => {
      if (event === undefined) return undefined;
      const failure = /^(exception|error):(.*)$/s.exec(event);
      // A payload that is not JSON still names its type: the failure is reported, not a parse error.
      return failure ? streamException(provider, failure[2]!, json) : undefined;
    },
  };
}
