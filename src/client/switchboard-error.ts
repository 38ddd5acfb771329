/** One error of a GraphQL response, as the gateway formats it (resolvers/errors.ts). */
export interface GraphQLErrorPayload {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
}

export interface SwitchboardErrorOptions {
  code: string;
  param?: string | undefined;
  status?: number | undefined;
  retryable?: boolean | undefined;
  retryAfterMs?: number | undefined;
  errors?: readonly GraphQLErrorPayload[] | undefined;
  cause?: unknown;
}

/**
 * What every failed call rejects with. `code` is the GraphQL error code (`BAD_USER_INPUT`, `FORBIDDEN`,
 * `RATE_LIMITED`, `UNAUTHENTICATED`, …) or, when no GraphQL answer came back, `NETWORK_ERROR` (the gateway
 * could not be reached or the socket failed) or `BAD_RESPONSE` (the answer was not GraphQL). `param` names
 * the input field at fault; `status` is the HTTP status when the call went over HTTP.
 */
export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  readonly code: string;
  readonly param: string | undefined;
  readonly status: number | undefined;
  readonly retryable: boolean | undefined;
  readonly retryAfterMs: number | undefined;
  /** Every error of the response (the message and code above are the first one's). */
  readonly errors: readonly GraphQLErrorPayload[];

  constructor(message: string, options: SwitchboardErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.param = options.param;
    this.status = options.status;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.errors = options.errors ?? [];
  }
}

const stringOr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const numberOr = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** Whether a value is a list of GraphQL errors (a response's `errors`, or graphql-ws's error message). */
export function isGraphQLErrors(v: unknown): v is GraphQLErrorPayload[] {
  return Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string');
}

/** The error of a GraphQL response that carried `errors`. */
export function fromGraphQLErrors(errors: readonly GraphQLErrorPayload[], status?: number): SwitchboardError {
  const first = errors[0]!;
  const ext = first.extensions ?? {};
  return new SwitchboardError(first.message, {
    code: stringOr(ext.code) ?? 'INTERNAL_SERVER_ERROR',
    param: stringOr(ext.param),
    status,
    retryable: typeof ext.retryable === 'boolean' ? ext.retryable : undefined,
    retryAfterMs: numberOr(ext.retryAfterMs),
    errors,
  });
}

/** The gateway could not be reached, or the connection failed before an answer. */
export function networkError(message: string, cause?: unknown): SwitchboardError {
  return new SwitchboardError(message, { code: 'NETWORK_ERROR', retryable: true, cause });
}
