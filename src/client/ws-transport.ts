import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws/client';
import type { Operation } from './operations.ts';
import { fromGraphQLErrors, isGraphQLErrors, networkError, SwitchboardError } from './switchboard-error.ts';

export interface WsTransportOptions {
  /** The gateway's GraphQL endpoint over WebSocket (`ws(s)://…/graphql`). */
  endpoint: string;
  apiKey?: string | undefined;
  /** A WebSocket constructor; the global one (browsers, Node ≥ 22) when omitted. */
  webSocketImpl?: unknown;
}

export interface WsTransport {
  subscribe<Result, Variables>(operation: Operation<Result, Variables>, variables: Variables, signal?: AbortSignal): AsyncIterableIterator<Result>;
  close(): Promise<void>;
}

/** graphql-ws reports a closed socket as a CloseEvent (or an object like one). */
function closeEventOf(v: unknown): { code: number; reason: string } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { code, reason } = v as { code?: unknown; reason?: unknown };
  return typeof code === 'number' && typeof reason === 'string' ? { code, reason } : undefined;
}

/** Whatever graphql-ws hands an error sink, as a SwitchboardError. */
function wsError(e: unknown, endpoint: string): SwitchboardError {
  if (e instanceof SwitchboardError) return e;
  if (isGraphQLErrors(e)) return fromGraphQLErrors(e);
  const closed = closeEventOf(e);
  // The gateway closes with 4401 when the key is missing or wrong, 4403 when it may not connect.
  if (closed?.code === 4401) return new SwitchboardError(closed.reason || 'Unauthorized', { code: 'UNAUTHENTICATED', retryable: false });
  if (closed?.code === 4403) return new SwitchboardError(closed.reason || 'Forbidden', { code: 'FORBIDDEN', retryable: false });
  if (closed) return networkError(`the WebSocket to ${endpoint} closed (${closed.code}${closed.reason ? ` ${closed.reason}` : ''})`, e);
  return networkError(`the WebSocket to ${endpoint} failed${e instanceof Error ? `: ${e.message}` : ''}`, e);
}

/**
 * Subscriptions over graphql-ws. One lazy socket per client: opened by the first subscription, closed when
 * the last one ends. Never retried: a retry would re-subscribe, which re-runs (and re-bills) a completion.
 * Ending an iteration early (`break`, `return()`) or aborting the signal completes the operation, and the
 * server cancels the upstream call.
 */
export function createWsTransport(options: WsTransportOptions): WsTransport {
  let client: WsClient | undefined;
  const connect = (): WsClient =>
    (client ??= createWsClient({
      url: options.endpoint,
      lazy: true,
      retryAttempts: 0,
      ...(options.apiKey !== undefined && { connectionParams: { authorization: `Bearer ${options.apiKey}` } }),
      ...(options.webSocketImpl !== undefined && { webSocketImpl: options.webSocketImpl }),
    }));

  function subscribe<Result, Variables>(operation: Operation<Result, Variables>, variables: Variables, signal?: AbortSignal): AsyncIterableIterator<Result> {
    const queue: Result[] = [];
    let ended = false;
    let failure: { error: unknown } | undefined;
    let wake: (() => void) | undefined;
    let unsubscribe: (() => void) | undefined;

    const settle = (error?: { error: unknown }) => {
      if (ended) return;
      ended = true;
      failure = error;
      signal?.removeEventListener('abort', onAbort);
      wake?.();
    };
    const cancel = () => {
      const stop = unsubscribe;
      unsubscribe = undefined;
      stop?.();
    };
    function onAbort() {
      settle({ error: signal!.reason });
      cancel();
    }

    if (signal?.aborted) {
      settle({ error: signal.reason });
    } else {
      signal?.addEventListener('abort', onAbort, { once: true });
      unsubscribe = connect().subscribe(
        { query: operation, variables: variables as Record<string, unknown> },
        {
          next: (result) => {
            if (ended) return;
            if (isGraphQLErrors(result.errors)) {
              settle({ error: fromGraphQLErrors(result.errors) });
              cancel();
              return;
            }
            queue.push(result.data as Result);
            wake?.();
          },
          error: (e) => settle({ error: wsError(e, options.endpoint) }),
          complete: () => settle(),
        },
      );
    }

    const iterator: AsyncIterableIterator<Result> = {
      [Symbol.asyncIterator]: () => iterator,
      async next(): Promise<IteratorResult<Result>> {
        for (;;) {
          // An abort stops at once; a server error comes after the events that preceded it.
          if (failure && (signal?.aborted || queue.length === 0)) {
            const { error } = failure;
            failure = undefined;
            queue.length = 0;
            throw error;
          }
          if (queue.length > 0) return { done: false, value: queue.shift()! };
          if (ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
      async return(): Promise<IteratorResult<Result>> {
        settle();
        cancel();
        queue.length = 0;
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }

  return {
    subscribe,
    async close() {
      const c = client;
      client = undefined;
      await c?.dispose();
    },
  };
}
