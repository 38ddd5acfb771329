import { assertNever, type ErrorKind } from '../core/index.ts';

/**
 * What the executor does after an attempt fails, by error kind:
 * - `next`: try another target now; this one may be retried in a later round (transient trouble);
 * - `next-after`: another target now; this one only after its retry-after (rate limits);
 * - `skip`: another target now; never this one again for this request (bad key, unknown model, a
 *   feature the protocol cannot express);
 * - `larger-window`: only targets with a larger context window;
 * - `stop`: answer with this error at once (the caller's fault, or a cancellation).
 */
export type FallbackAction = 'next' | 'next-after' | 'skip' | 'larger-window' | 'stop';

export function fallbackAction(kind: ErrorKind): FallbackAction {
  switch (kind) {
    case 'rate_limited':
      return 'next-after';
    case 'overloaded':
    case 'unavailable':
    case 'timeout':
    case 'invalid_response':
      return 'next';
    // A provider refusing this deployment's credentials or access (region, model) says nothing of the
    // others' keys: try the next deployment.
    case 'auth':
    case 'provider_auth':
    case 'forbidden':
    case 'not_found':
    case 'unsupported_feature':
      return 'skip';
    case 'context_length_exceeded':
      return 'larger-window';
    case 'invalid_request':
    case 'payload_too_large':
    case 'budget_exceeded':
    case 'content_filter':
    case 'cancelled':
    case 'shutting_down':
    case 'internal':
      return 'stop';
    default:
      return assertNever(kind);
  }
}
