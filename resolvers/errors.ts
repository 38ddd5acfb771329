// graphql-js is imported as 'graphql/index.js' throughout (the build Node and every Apollo package load): under
// vitest a bare 'graphql' resolves to index.mjs, and schema objects from the two builds reject each other.
import { GraphQLError, type GraphQLFormattedError } from 'graphql/index.js';
import { GatewayError, graphqlCodeOf, RoutingError, type AttemptRecord } from '../src/core/index.ts';

/** An attempt as error extensions and CompletionErrorEvent show it: no upstream message, which may quote a request. */
export interface AttemptView {
  provider: string;
  model: string;
  status: 'OK' | 'ERROR';
  errorCode: string | null;
  latencyMs: number;
  retryDelayMs: number | null;
}

export function attemptView(a: AttemptRecord): AttemptView {
  return {
    provider: a.provider,
    model: a.model,
    status: a.status === 'ok' ? 'OK' : 'ERROR',
    errorCode: a.errorKind ? graphqlCodeOf(a.errorKind) : null,
    latencyMs: a.latencyMs,
    retryDelayMs: a.retryDelayMs ?? null,
  };
}

/** The attempts of a request the router gave up on (a RoutingError's typed field); undefined for any other error. */
/** `extensions` of a GraphQL error made from a GatewayError: the stable code and what a client can act on. */
export function gatewayErrorExtensions(e: GatewayError): Record<string, unknown> {
  const attempts = e instanceof RoutingError ? e.attempts : undefined;
  return {
    code: graphqlCodeOf(e.kind),
    retryable: e.retryable,
    ...(e.param !== undefined && { param: e.param }),
    ...(e.retryAfterMs !== undefined && { retryAfterMs: e.retryAfterMs }),
    ...(e.provider !== undefined && { provider: e.provider }),
    ...(attempts && { attempts: attempts.map(attemptView) }),
  };
}

/** A client-input problem, as the gateway's own error type so both transports format it alike. */
export function badUserInput(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, param === undefined ? {} : { param });
}

/** The innermost error behind GraphQL's wrappers (located errors, context-creation failures). */
export function originalErrorOf(error: unknown): unknown {
  let e = error;
  while (e instanceof GraphQLError && e.originalError) e = e.originalError;
  return e;
}

export interface ErrorLogger {
  error(obj: unknown, msg?: string): void;
}

/**
 * The one error formatter of both transports (Apollo's formatError, graphql-ws results). GatewayErrors keep
 * their message and gain code/retryable/param/attempts; GraphQL's own errors pass; anything else is a bug
 * whose message may hold anything (a URL with a key, a header), so the client sees only a generic error.
 * Never a stack: formatted errors are built from fields, not from the error object.
 */
export function formatGraphQLError(formatted: GraphQLFormattedError, error: unknown, logger?: ErrorLogger): GraphQLFormattedError {
  const original = originalErrorOf(error);
  const { locations, path } = formatted;
  const where = { ...(locations && { locations }), ...(path && { path }) };
  if (original instanceof GatewayError) {
    return { message: original.message, ...where, extensions: gatewayErrorExtensions(original) };
  }
  if (original instanceof GraphQLError) {
    const { stacktrace: _s, exception: _e, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
    return { ...formatted, extensions: { ...extensions, code: extensions.code ?? 'INTERNAL_SERVER_ERROR' } };
  }
  logger?.error(
    { err: original instanceof Error ? { name: original.name, message: original.message } : String(original), path },
    'graphql: unexpected error in a resolver',
  );
  return { message: 'Internal server error', ...where, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}
