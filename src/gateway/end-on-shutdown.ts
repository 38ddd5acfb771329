import { GatewayError, newId, type CompletionEvent } from '../core/index.ts';

/** The error a stream still open at the end of the shutdown grace period ends with. */
export function shuttingDownError(): GatewayError {
  return new GatewayError('shutting_down', 'the gateway is shutting down; the stream was ended before it completed: retry the request');
}

/**
 * A completion stream that ends with a `shutting_down` error event when `signal` aborts, so the API layers
 * (REST SSE, GraphQL subscriptions) send their usual typed terminal event instead of a cut connection.
 * Whatever the source says once the signal has aborted (a `cancelled` error, if the caller aborts the
 * request on the same signal) is not passed on. The source is released without waiting: its pending read
 * settles when the caller aborts the upstream request, and waiting for it could outlast the shutdown.
 */
export async function* endOnShutdown(source: AsyncIterable<CompletionEvent>, signal: AbortSignal | undefined): AsyncGenerator<CompletionEvent> {
  if (!signal) {
    yield* source;
    return;
  }
  const it = source[Symbol.asyncIterator]();
  // The read in progress is woken by the abort: one listener for the stream, not a reaction per event.
  let wake: (() => void) | undefined;
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  let id = '';
  let text = '';
  let cut = false;
  let ended = false;
  try {
    for (;;) {
      const r = signal.aborted
        ? 'stopped'
        : await new Promise<IteratorResult<CompletionEvent> | 'stopped'>((resolve, reject) => {
            wake = () => resolve('stopped');
            // Settling after the cut changes nothing: a late failure is never an unhandled rejection.
            it.next().then(resolve, reject);
          });
      wake = undefined;
      if (r === 'stopped' || signal.aborted) {
        // Released before the terminal event goes out: a consumer may stop reading after it.
        cut = true;
        it.return?.(undefined).catch(() => undefined);
        yield { type: 'error', id: id || newId('cmpl'), error: shuttingDownError(), partialText: text, attempts: [] };
        return;
      }
      if (r.done) {
        ended = true;
        return;
      }
      const ev = r.value;
      if (ev.type === 'start') id = ev.id;
      else if (ev.type === 'text-delta') text += ev.text;
      yield ev;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (!cut && !ended) await it.return?.();
  }
}
