import type { ServerResponse } from 'node:http';
import { assertNever, type AttemptRecord, type ErrorKind, type GatewayError } from '../../core/index.ts';
import { attemptsHeader } from '../openai-compat/openai-routes.ts';

/**
 * Anthropic's error vocabulary for the gateway's error kinds, so Anthropic SDKs (and Claude Code) raise
 * their own error classes and apply their own retry rules: 529 `overloaded_error` is what they retry as
 * "the service is busy", 429 carries `retry-after`, 4xx other than those are never retried.
 */
export interface AnthropicError {
  status: number;
  type: string;
}

export function anthropicErrorOf(kind: ErrorKind): AnthropicError {
  switch (kind) {
    case 'auth':
      return { status: 401, type: 'authentication_error' };
    case 'forbidden':
      return { status: 403, type: 'permission_error' };
    case 'not_found':
      return { status: 404, type: 'not_found_error' };
    case 'payload_too_large':
      return { status: 413, type: 'request_too_large' };
    // A budget is a spend limit: Anthropic answers its own spend limit with a 429 rate_limit_error too.
    case 'rate_limited':
    case 'budget_exceeded':
      return { status: 429, type: 'rate_limit_error' };
    // Anthropic reports an over-long prompt, and anything else the request itself got wrong, as 400.
    case 'invalid_request':
    case 'unsupported_feature':
    case 'context_length_exceeded':
    case 'content_filter':
      return { status: 400, type: 'invalid_request_error' };
    // Every target busy or down, or the gateway draining: "try again shortly", which is what 529 tells an Anthropic client.
    case 'overloaded':
    case 'unavailable':
    case 'shutting_down':
      return { status: 529, type: 'overloaded_error' };
    case 'timeout':
      return { status: 504, type: 'timeout_error' };
    // The client is gone; nobody reads this, but the log and metrics see the same status as REST.
    case 'cancelled':
      return { status: 499, type: 'api_error' };
    case 'invalid_response':
    case 'provider_auth':
    case 'internal':
      return { status: 500, type: 'api_error' };
    default:
      return assertNever(kind);
  }
}

/** Anthropic's error envelope; never the cause (it may hold upstream headers). */
export function anthropicErrorBody(e: GatewayError, requestId: string): Record<string, unknown> {
  return { type: 'error', error: { type: anthropicErrorOf(e.kind).type, message: e.message }, request_id: requestId };
}

/** The in-band error of a stream that already sent its headers: Anthropic's `event: error` frame. */
export function anthropicErrorEvent(e: GatewayError, requestId: string): string {
  return `event: error\ndata: ${JSON.stringify(anthropicErrorBody(e, requestId))}\n\n`;
}

/** Sends an Anthropic-style error; `retry-after` on 429 and 529; the attempts when routing failed. */
export function sendAnthropicError(res: ServerResponse, e: GatewayError, requestId: string, attempts?: readonly AttemptRecord[]): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status } = anthropicErrorOf(e.kind);
  // `request-id` is the header Anthropic SDKs read into `error.requestID`.
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId, 'request-id': requestId };
  if (e.retryAfterMs !== undefined && (status === 429 || status === 529)) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)));
  }
  if (attempts && attempts.length > 0) {
    headers['x-switchboard-attempts'] = String(attempts.length);
    headers['x-switchboard-attempt-log'] = attemptsHeader(attempts);
  }
  res.writeHead(status, headers).end(JSON.stringify(anthropicErrorBody(e, requestId)));
}
