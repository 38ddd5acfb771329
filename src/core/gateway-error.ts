/**
 * The one error type of the gateway. Every failure — a provider's HTTP error, a socket reset, a
 * malformed chunk, a bad client request — becomes a GatewayError with a kind from this closed set,
 * so the router can decide per kind and both APIs can answer with a stable code.
 */
export const ERROR_KINDS = [
  'auth',
  'forbidden',
  'not_found',
  'payload_too_large',
  'rate_limited',
  'budget_exceeded',
  'overloaded',
  'unavailable',
  'timeout',
  'context_length_exceeded',
  'invalid_request',
  'content_filter',
  'unsupported_feature',
  'invalid_response',
  /** A provider refused the gateway's own credentials (its 401/403): the gateway's fault, never the client's key. */
  'provider_auth',
  'cancelled',
  /** The gateway is stopping: a stream still open at the end of the shutdown grace period is ended with it. */
  'shutting_down',
  'internal',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

export interface GatewayErrorOptions {
  /** Whether trying again (here or on another target) may succeed; defaults per kind. */
  retryable?: boolean;
  /** For rate_limited/overloaded: how long the provider asked us to wait. */
  retryAfterMs?: number;
  /** The provider instance id the error came from, when it came from one. */
  provider?: string;
  /** The upstream HTTP status, when there was one. */
  status?: number;
  /** The provider's own error type/code (`rate_limit_error`, `context_length_exceeded`, …). */
  providerCode?: string;
  /** For invalid_request / unsupported_feature: the field or feature at fault. */
  param?: string;
  /** Text already delivered to the client when a stream failed part-way. */
  partialText?: string;
  cause?: unknown;
}

/** Retryable by default: another attempt, here or elsewhere, may well succeed. */
function defaultRetryable(kind: ErrorKind): boolean {
  switch (kind) {
    case 'rate_limited':
    case 'overloaded':
    case 'unavailable':
    case 'timeout':
    case 'invalid_response':
    case 'provider_auth':
    case 'shutting_down':
      return true;
    case 'auth':
    case 'forbidden':
    case 'not_found':
    case 'payload_too_large':
    case 'budget_exceeded':
    case 'context_length_exceeded':
    case 'invalid_request':
    case 'content_filter':
    case 'unsupported_feature':
    case 'cancelled':
    case 'internal':
      return false;
    default:
      return assertNever(kind);
  }
}

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly provider: string | undefined;
  readonly status: number | undefined;
  readonly providerCode: string | undefined;
  readonly param: string | undefined;
  readonly partialText: string | undefined;

  constructor(kind: ErrorKind, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.retryable = options.retryable ?? defaultRetryable(kind);
    this.retryAfterMs = options.retryAfterMs;
    this.provider = options.provider;
    this.status = options.status;
    this.providerCode = options.providerCode;
    this.param = options.param;
    this.partialText = options.partialText;
  }

  /** A copy with more context (e.g. the partial text of a broken stream), keeping kind and cause. */
  with(extra: GatewayErrorOptions): GatewayError {
    return new GatewayError(this.kind, this.message, {
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      provider: this.provider,
      status: this.status,
      providerCode: this.providerCode,
      param: this.param,
      partialText: this.partialText,
      cause: this.cause,
      ...extra,
    });
  }

  /** A JSON-safe view for logs and API bodies: never the cause (it may hold request headers). */
  toJSON(): Record<string, unknown> {
    return {
      kind: this.kind,
      message: this.message,
      retryable: this.retryable,
      ...(this.retryAfterMs !== undefined && { retryAfterMs: this.retryAfterMs }),
      ...(this.provider !== undefined && { provider: this.provider }),
      ...(this.status !== undefined && { status: this.status }),
      ...(this.providerCode !== undefined && { providerCode: this.providerCode }),
      ...(this.param !== undefined && { param: this.param }),
    };
  }
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}

/** Wraps anything thrown into a GatewayError (kind internal unless it already is one). */
export function toGatewayError(e: unknown, provider?: string): GatewayError {
  if (e instanceof GatewayError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new GatewayError('internal', message, { cause: e, ...(provider !== undefined && { provider }) });
}

/** HTTP status a client of the gateway sees for each kind (OpenAI-compatible REST). */
export function httpStatusOf(kind: ErrorKind): number {
  switch (kind) {
    case 'auth':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'payload_too_large':
      return 413;
    case 'rate_limited':
    case 'budget_exceeded':
      return 429;
    case 'invalid_request':
    case 'unsupported_feature':
    case 'context_length_exceeded':
    case 'content_filter':
      return 400;
    case 'cancelled':
      return 499;
    case 'invalid_response':
    case 'provider_auth':
      return 502;
    case 'overloaded':
    case 'unavailable':
    case 'shutting_down':
      return 503;
    case 'timeout':
      return 504;
    case 'internal':
      return 500;
    default:
      return assertNever(kind);
  }
}

/** GraphQL `extensions.code` for each kind: Apollo's conventional names where one exists. */
export function graphqlCodeOf(kind: ErrorKind): string {
  switch (kind) {
    case 'auth':
      return 'UNAUTHENTICATED';
    case 'forbidden':
      return 'FORBIDDEN';
    case 'invalid_request':
      return 'BAD_USER_INPUT';
    case 'internal':
      return 'INTERNAL_SERVER_ERROR';
    case 'not_found':
    case 'payload_too_large':
    case 'rate_limited':
    case 'budget_exceeded':
    case 'overloaded':
    case 'unavailable':
    case 'timeout':
    case 'context_length_exceeded':
    case 'content_filter':
    case 'unsupported_feature':
    case 'invalid_response':
    case 'provider_auth':
    case 'cancelled':
    case 'shutting_down':
      return kind.toUpperCase();
    default:
      return assertNever(kind);
  }
}

/** OpenAI's error `type` for each kind, so OpenAI SDKs raise their matching error class. */
export function openaiErrorTypeOf(kind: ErrorKind): string {
  switch (kind) {
    case 'auth':
      return 'authentication_error';
    case 'forbidden':
      return 'permission_error';
    case 'not_found':
      return 'not_found_error';
    case 'rate_limited':
    case 'budget_exceeded':
      return 'rate_limit_error';
    case 'payload_too_large':
    case 'invalid_request':
    case 'unsupported_feature':
    case 'context_length_exceeded':
    case 'content_filter':
      return 'invalid_request_error';
    case 'overloaded':
    case 'unavailable':
    case 'timeout':
    case 'invalid_response':
    case 'provider_auth':
    case 'cancelled':
    case 'shutting_down':
    case 'internal':
      return 'server_error';
    default:
      return assertNever(kind);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${String(x)}`);
}
