// No graphql-js here: the HTTP server formats errors before (and without) the GraphQL API being loaded.
import { graphqlCodeOf, RoutingError, type AttemptRecord, type GatewayError } from '../src/core/index.ts';

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
