import { GatewayError } from '../core/index.ts';

/**
 * The one error a store raises when its backend cannot answer. The message never carries the
 * backend's own text (ioredis errors can name hosts and, with a careless URL, credentials).
 */
export function storeUnavailable(operation: string, cause: unknown): GatewayError {
  if (cause instanceof GatewayError) return cause;
  return new GatewayError('unavailable', `store unavailable (${operation})`, { cause, retryable: true });
}

export function isStoreUnavailable(e: unknown): boolean {
  return e instanceof GatewayError && e.kind === 'unavailable' && e.message.startsWith('store unavailable');
}
