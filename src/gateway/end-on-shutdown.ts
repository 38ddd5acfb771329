import { GatewayError, newId, onSharedAbort, type CompletionEvent } from '../core/index.ts';

/** The error a stream still open at the end of the shutdown grace period ends with. */
export function shuttingDownError(): GatewayError {
  return new GatewayError('shutting_down', 'the gateway is shutting down; the stream was ended before it completed: retry the request');
}

/** A completion stream as the API layers read it: events in order, and `return()` to let go of it early. */
export interface CompletionEventStream extends AsyncIterableIterator<CompletionEvent> {
  return(value?: unknown): Promise<IteratorResult<CompletionEvent, unknown>>;
}

const DONE: IteratorResult<CompletionEvent, undefined> = Object.freeze({ done: true, value: undefined });
const ignore = () => undefined;

/**
 * A completion stream that ends with a `shutting_down` error event when `signal` aborts, so the API layers
 * (REST SSE, GraphQL subscriptions) send their usual typed terminal event instead of a cut connection.
 * Whatever the source says once the signal has aborted (a `cancelled` error, if the caller aborts the
 * request on the same signal) is not passed on. The source is released without waiting: its pending read
 * settles when the caller aborts the upstream request, and waiting for it could outlast the shutdown.
 */
export function endOnShutdown(source: AsyncGenerator<CompletionEvent>, signal: AbortSignal | undefined): CompletionEventStream {
  return signal ? new ShutdownCut(source, signal) : source;
}

/**
 * A hand-written iterator rather than an async generator: every event of every stream passes through it,
 * and a generator layer costs a promise turn and its own iterator result per event on top of the one
 * promise per read that waking a pending read on the abort needs. Its handlers are made once per stream.
 */
class ShutdownCut implements CompletionEventStream {
  readonly #it: AsyncGenerator<CompletionEvent>;
  readonly #signal: AbortSignal;
  readonly #unwatch: () => void;
  #id = '';
  #text = '';
  /** Cut, ended, failed or let go of: nothing more is read from the source. */
  #over = false;
  /** The read in progress, woken by whichever comes first: the source's answer or the abort. */
  #resolve: ((r: IteratorResult<CompletionEvent, undefined>) => void) | undefined;
  #reject: ((e: unknown) => void) | undefined;

  readonly #pending = (resolve: (r: IteratorResult<CompletionEvent, undefined>) => void, reject: (e: unknown) => void) => {
    this.#resolve = resolve;
    this.#reject = reject;
  };

  readonly #onAbort = () => {
    const resolve = this.#take();
    if (resolve) resolve(this.#cut());
  };

  readonly #onResult = (r: IteratorResult<CompletionEvent>) => {
    // Settling after the cut changes nothing.
    const resolve = this.#take();
    if (!resolve) return;
    if (this.#signal.aborted) {
      resolve(this.#cut());
      return;
    }
    if (r.done === true) {
      this.#end();
      resolve(DONE);
      return;
    }
    const ev = r.value;
    if (ev.type === 'start') this.#id = ev.id;
    else if (ev.type === 'text-delta') this.#text += ev.text;
    resolve(r);
  };

  readonly #onError = (e: unknown) => {
    // A late failure after the cut is never an unhandled rejection.
    const reject = this.#reject;
    if (!this.#take() || !reject) return;
    this.#end();
    reject(e);
  };

  constructor(source: AsyncGenerator<CompletionEvent>, signal: AbortSignal) {
    this.#it = source;
    this.#signal = signal;
    // The server's one shutdown signal, shared by every open stream: a Set entry, not a listener each.
    this.#unwatch = onSharedAbort(signal, this.#onAbort);
  }

  next(): Promise<IteratorResult<CompletionEvent, undefined>> {
    if (this.#over) return Promise.resolve(DONE);
    if (this.#signal.aborted) return Promise.resolve(this.#cut());
    const read = new Promise(this.#pending);
    this.#it.next().then(this.#onResult, this.#onError);
    return read;
  }

  async return(): Promise<IteratorResult<CompletionEvent, undefined>> {
    if (!this.#over) {
      this.#end();
      await this.#it.return(undefined);
    }
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #take(): ((r: IteratorResult<CompletionEvent, undefined>) => void) | undefined {
    const resolve = this.#resolve;
    this.#resolve = undefined;
    this.#reject = undefined;
    return resolve;
  }

  #end(): void {
    this.#over = true;
    this.#unwatch();
  }

  #cut(): IteratorResult<CompletionEvent, undefined> {
    this.#end();
    // Released before the terminal event goes out: a consumer may stop reading after it.
    this.#it.return(undefined).catch(ignore);
    return { done: false, value: { type: 'error', id: this.#id || newId('cmpl'), error: shuttingDownError(), partialText: this.#text, attempts: [] } };
  }
}
