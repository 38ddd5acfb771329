import { TextDecoder } from 'node:util';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../../core/index.ts';
import type { AbortState, HttpResponse } from './http-client.ts';

type Controller = Dispatcher.DispatchController;
type MapError = (err: unknown, signal: AbortState, phase: 'connect' | 'body') => GatewayError;

/** Queued bytes above which a streamed body pauses the socket until the reader catches up. */
const HIGH_WATER = 256 * 1024;
/** Queued bytes above which a body read whole is decoded as it arrives (see Call.#fold). */
const FOLD_BYTES = 256 * 1024;
const BODY_DONE: IteratorResult<Buffer, undefined> = Object.freeze({ value: undefined, done: true });

/**
 * A response body, read once: whole (`text()`) or chunk by chunk (`for await`). Breaking off a read, or
 * `destroy()`, aborts the request, which releases (closes) its connection. Read errors are undici's own;
 * callers map them with the client's `mapTransportError`, as `text()` does.
 */
export class ResponseBody implements AsyncIterableIterator<Buffer> {
  readonly #call: Call;
  constructor(call: Call) {
    this.#call = call;
  }
  get destroyed(): boolean {
    return this.#call.discarded;
  }
  destroy(): void {
    this.#call.discard();
  }
  text(): Promise<string> {
    return this.#call.text();
  }
  next(): Promise<IteratorResult<Buffer, undefined>> {
    return this.#call.next();
  }
  return(): Promise<IteratorResult<Buffer, undefined>> {
    this.#call.discard();
    return Promise.resolve({ value: undefined, done: true });
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * One upstream request as an undici dispatch handler: resolves with the response at its headers, then
 * buffers or hands over body chunks. It is also the request's AbortState: `aborted` with a GatewayError
 * `reason` after a caller cancel or the total timeout (both abort the request at once).
 */
export class Call implements Dispatcher.DispatchHandler, AbortState {
  aborted = false;
  reason: unknown = undefined;
  /** The body was given up by its reader (or the request is over): later failures are nobody's concern. */
  discarded = false;
  readonly #provider: string;
  readonly #signal: AbortSignal | undefined;
  readonly #mapError: MapError;
  #resolve: ((res: HttpResponse) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  #controller: Controller | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chunks: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #error: unknown = undefined;
  /**
   * The reader waiting in next(), if any. It is parked by one executor per streamed body, made on its first
   * wait, instead of a closure and a holder object per chunk; a body read whole never makes it.
   */
  #waitResolve: ((r: IteratorResult<Buffer, undefined>) => void) | undefined;
  #waitReject: ((e: unknown) => void) | undefined;
  #park: ((resolve: (r: IteratorResult<Buffer, undefined>) => void, reject: (e: unknown) => void) => void) | undefined;
  #wantText: { resolve: (t: string) => void; reject: (e: unknown) => void } | undefined;
  /** A long body read whole: the text decoded so far, and the decoder holding a split character between chunks. */
  #text = '';
  #decoder: TextDecoder | undefined;
  readonly #onCallerAbort = () => this.#abort(new GatewayError('cancelled', `${this.#provider}: request cancelled`, { provider: this.#provider }));

  constructor(
    provider: string,
    totalMs: number,
    signal: AbortSignal | undefined,
    resolve: (res: HttpResponse) => void,
    reject: (err: unknown) => void,
    mapError: MapError,
  ) {
    this.#provider = provider;
    this.#signal = signal;
    this.#mapError = mapError;
    this.#resolve = resolve;
    this.#reject = reject;
    if (signal?.aborted) {
      this.#onCallerAbort();
      return;
    }
    signal?.addEventListener('abort', this.#onCallerAbort, { once: true });
    this.#timer = setTimeout(
      () => this.#abort(new GatewayError('timeout', `${provider}: no complete response within ${totalMs} ms`, { provider })),
      totalMs,
    );
    this.#timer.unref?.();
  }

  #abort(reason: GatewayError): void {
    if (this.aborted || this.#ended || this.discarded) return;
    this.aborted = true;
    this.reason = reason;
    // Queued behind other requests the controller may not exist yet: the caller hears now, undici when it starts.
    this.#controller?.abort(reason);
    this.#fail(reason);
  }

  #cleanup(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#signal?.removeEventListener('abort', this.#onCallerAbort);
  }

  #fail(err: unknown): void {
    this.#cleanup();
    if (this.#reject) {
      const reject = this.#reject;
      this.#resolve = this.#reject = undefined;
      reject(this.#mapError(err, this, 'connect'));
      return;
    }
    if (this.#error === undefined) this.#error = err;
    this.#wake(undefined, err);
    const wantText = this.#wantText;
    this.#wantText = undefined;
    wantText?.reject(this.#mapError(err, this, 'body'));
  }

  // ---- undici's side

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.aborted) controller.abort(this.reason as Error);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    const resolve = this.#resolve;
    this.#resolve = this.#reject = undefined;
    const body = new ResponseBody(this);
    resolve?.({ status: statusCode, headers, body, signal: this, text: () => this.text() });
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.discarded) return;
    if (this.#waitResolve !== undefined) {
      this.#wake({ value: chunk, done: false });
      return;
    }
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (this.#wantText === undefined) {
      if (this.#queued > HIGH_WATER) controller.pause();
    } else if (this.#queued > FOLD_BYTES) this.#fold();
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#cleanup();
    this.#wake(BODY_DONE);
    const wantText = this.#wantText;
    this.#wantText = undefined;
    if (wantText) wantText.resolve(this.#drain());
  }

  onResponseError(_controller: Controller | undefined, err: Error): void {
    if (this.discarded && this.#reject === undefined) return;
    this.#fail(this.aborted ? this.reason : err);
  }

  // ---- the reader's side

  /**
   * Decodes the queued chunks onto the text read so far. Each chunk is a view of a socket read buffer
   * (~64 KiB, from malloc's heap, not V8's): a 10 MB body kept whole until its end held ~160 of them,
   * freed together afterwards, and glibc gives back only the top of its heap, so ~10 MB stayed resident per
   * such answer (the chaos suite's upstream-faults). Decoded as they come, they die young and later reads
   * reuse their memory. A body under FOLD_BYTES never comes here (one decode at its end, as before).
   */
  #fold(): void {
    // ignoreBOM: a leading BOM is kept, as Buffer#toString keeps it.
    this.#decoder ??= new TextDecoder('utf-8', { ignoreBOM: true });
    for (const c of this.#chunks) this.#text += this.#decoder.decode(c, { stream: true });
    this.#chunks = [];
    this.#queued = 0;
  }

  #drain(): string {
    if (this.#decoder !== undefined) {
      this.#fold();
      const text = this.#text + this.#decoder.decode();
      this.#text = '';
      this.#decoder = undefined;
      return text;
    }
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#queued = 0;
    return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
  }

  text(): Promise<string> {
    if (this.#error !== undefined) return Promise.reject(this.#mapError(this.#error, this, 'body'));
    if (this.#ended) return Promise.resolve(this.#drain());
    if (this.discarded) return Promise.reject(this.#mapError(new Error('response body was discarded'), this, 'body'));
    const text = new Promise<string>((resolve, reject) => {
      this.#wantText = { resolve, reject };
    });
    if (this.#queued > FOLD_BYTES) this.#fold();
    // Only now: resuming a socket paused at the high-water mark hands over what undici holds at once, and
    // without a text reader registered that data paused the socket again, for good (the read hung).
    this.#controller?.resume();
    return text;
  }

  next(): Promise<IteratorResult<Buffer, undefined>> {
    const chunk = this.#chunks.shift();
    if (chunk !== undefined) {
      this.#queued -= chunk.length;
      if (this.#queued <= HIGH_WATER / 2 && this.#controller?.paused) this.#controller.resume();
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended || this.discarded) return Promise.resolve(BODY_DONE);
    this.#park ??= (resolve, reject) => {
      this.#waitResolve = resolve;
      this.#waitReject = reject;
    };
    return new Promise(this.#park);
  }

  /** Settles the reader waiting in next(), if there is one: with `result`, or failed with `err` when there is none. */
  #wake(result: IteratorResult<Buffer, undefined> | undefined, err?: unknown): void {
    const resolve = this.#waitResolve;
    const reject = this.#waitReject;
    this.#waitResolve = this.#waitReject = undefined;
    if (result !== undefined) resolve?.(result);
    else reject?.(err);
  }

  /** The reader is done with the body: an unfinished response is aborted, which closes its connection. */
  discard(): void {
    if (this.discarded) return;
    this.discarded = true;
    this.#chunks = [];
    this.#queued = 0;
    this.#text = '';
    this.#decoder = undefined;
    this.#cleanup();
    if (!this.#ended && this.#error === undefined) this.#controller?.abort(new Error('response body discarded'));
    this.#wake(BODY_DONE);
  }
}
