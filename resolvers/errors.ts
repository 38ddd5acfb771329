// graphql-js is imported as 'graphql/index.js' throughout (the build Node and every Apollo package load): under
// vitest a bare 'graphql' resolves to index.mjs, and schema objects from the two builds reject each other.
import { GraphQLError, type GraphQLFormattedError } from 'graphql/index.js';
import { GatewayError } from '../src/core/index.ts';
import { gatewayErrorExtensions } from './error-extensions.ts';

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
