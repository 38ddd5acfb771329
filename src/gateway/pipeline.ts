import { attemptsOf, GatewayError, newId, toGatewayError, type Completion, type CompletionErrorEvent, type CompletionEvent } from '../core/index.ts';
import type { StoreRequest } from './gateway-request.ts';
import { RequestContext, type GatewayCall } from './request-context.ts';
import { replayAsStream } from './stored-completion.ts';

/** A stream event that is not the end of the request (the end goes to `done` or `error`). */
export type ProgressEvent = Exclude<CompletionEvent, { type: 'done' | 'error' }>;

/**
 * One stage of the request pipeline: observability, resolution, idempotency, limits and budgets, the
 * response cache. Stages are listed outermost first and install only the hooks they need; the pipeline
 * keeps, per hook, the list of stages that have it, so an absent hook costs a request nothing.
 *
 * The contract, for one request:
 * - A stage is *entered* once its `before` returned without answering (a stage without `before` is
 *   entered when the request passes it). Every entered stage gets exactly one of `done` or `error`, also
 *   when a later stage refuses the request, when a later hook throws, and when a stream's consumer stops
 *   reading: that guarantee is what the cache's single-flight claim and the limits' reservation rely on
 *   to be released, so neither has to wrap the upstream call.
 * - Anything a hook throws becomes the request's one error: `complete` rejects with one GatewayError, a
 *   stream ends with one `error` event. A stage whose `before` throws is not entered (it must leave
 *   nothing behind); one whose `done` throws gets no `error` as well.
 * - Hooks run outermost first on the way in (`open`, `before`) and innermost first on the way out
 *   (`onEvent`, `done`, `error`), as nested wrappers would.
 */
export interface Stage {
  readonly name: string;
  /**
   * Runs synchronously when `complete` or `stream` is called, before anything is awaited: for what must
   * be taken from the caller's own async context (the tracing stage's parent span; a stream's `before`
   * hooks run only when it is first read, possibly elsewhere). Must not throw.
   */
  open?(ctx: RequestContext): void;
  /**
   * Before the upstream call. Returning a completion answers the request here (a cache hit, an
   * idempotent replay; a stream replays it as events): later stages and the upstream call are skipped,
   * and this stage is not entered. Throwing refuses the request.
   */
  before?(ctx: RequestContext): Promise<Completion | void> | Completion | void;
  /**
   * Runs `inner` (the later stages' `before`, the upstream call, each read of the upstream stream) inside
   * a scope of this stage. Only for what hooks cannot express: OpenTelemetry's active context is
   * AsyncLocalStorage, set by running code inside `context.with`, and the spans made further in (cache
   * lookup, rate-limit check, provider calls) must nest under the request's span.
   */
  wrap?<T>(ctx: RequestContext, inner: (ctx: RequestContext) => T): T;
  /** Each event of a stream before its terminal one (start, switch, deltas). */
  onEvent?(ctx: RequestContext, ev: ProgressEvent): void;
  /** The request is answered; awaited before the answer goes out. */
  done?(ctx: RequestContext, completion: Completion): Promise<void> | void;
  /** The request failed, was refused further in, or (a stream) was abandoned by its consumer (`cancelled`). */
  error?(ctx: RequestContext, failure: CompletionErrorEvent): Promise<void> | void;
}

/** What the pipeline calls when no stage answered: the gateway's planning and attempt loop. */
export interface Upstream {
  complete(call: GatewayCall): Promise<Completion>;
  stream(call: GatewayCall): AsyncIterable<CompletionEvent>;
}

export interface RequestPipeline {
  /** The context a request will run in: the API layer reads what the stages found out (cache status, rate limits) from it. */
  prepare(request: StoreRequest): RequestContext;
  complete(request: StoreRequest | RequestContext): Promise<Completion>;
  stream(request: StoreRequest | RequestContext): AsyncGenerator<CompletionEvent>;
}

export interface PipelineDeps {
  /** Outermost first. */
  stages: readonly Stage[];
  upstream: Upstream;
  /** Monotonic ms (tests inject a fake clock). */
  now?: () => number;
  newId?: () => string;
}

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;
const NOT_REFUSED: unique symbol = Symbol('not refused');

function hooked(stages: readonly Stage[], hook: keyof Stage, innermostFirst: boolean): number[] {
  const out: number[] = [];
  stages.forEach((s, i) => {
    if (s[hook] !== undefined) out.push(i);
  });
  return innermostFirst ? out.reverse() : out;
}

async function closeQuietly(it: AsyncIterator<CompletionEvent>): Promise<void> {
  try {
    await it.return?.();
  } catch {
    // The source is being abandoned; how it ends no longer matters.
  }
}

class Pipeline implements RequestPipeline {
  readonly #stages: readonly Stage[];
  readonly #upstream: Upstream;
  readonly #now: () => number;
  readonly #newId: () => string;
  readonly #opens: number[];
  readonly #events: number[];
  readonly #dones: number[];
  readonly #errors: number[];
  readonly #wraps: Stage[];
  // Made once: a wrap's `inner` is one of these, never a closure per request.
  readonly #enterBound = (ctx: RequestContext) => this.#enter(ctx);
  readonly #nextBound = (ctx: RequestContext) => ctx.source!.next();

  constructor(deps: PipelineDeps) {
    this.#stages = deps.stages;
    this.#upstream = deps.upstream;
    this.#now = deps.now ?? (() => performance.now());
    this.#newId = deps.newId ?? (() => newId('cmpl'));
    this.#opens = hooked(deps.stages, 'open', false);
    this.#events = hooked(deps.stages, 'onEvent', true);
    this.#dones = hooked(deps.stages, 'done', true);
    this.#errors = hooked(deps.stages, 'error', true);
    this.#wraps = deps.stages.filter((s) => s.wrap !== undefined);
  }

  prepare(request: StoreRequest): RequestContext {
    return new RequestContext(request);
  }

  async complete(input: StoreRequest | RequestContext): Promise<Completion> {
    const ctx = this.#start(input, false);
    let c: Completion;
    try {
      this.#open(ctx);
      c = (await this.#enter(ctx))!;
    } catch (e) {
      const failure = this.#failure(ctx, e);
      await this.#fail(ctx, failure, ctx.entered);
      throw failure.error;
    }
    c = this.#withTraceId(ctx, c);
    const failed = await this.#finish(ctx, c);
    if (failed) throw failed.error;
    return c;
  }

  stream(input: StoreRequest | RequestContext): AsyncGenerator<CompletionEvent> {
    const ctx = this.#start(input, true);
    let refused: unknown = NOT_REFUSED;
    try {
      this.#open(ctx);
    } catch (e) {
      refused = e;
    }
    return this.#run(ctx, refused);
  }

  #start(input: StoreRequest | RequestContext, streamed: boolean): RequestContext {
    const ctx = input instanceof RequestContext ? input : new RequestContext(input);
    if (ctx.entered !== -1) throw new GatewayError('internal', 'a request context runs once');
    ctx.entered = 0;
    ctx.streamed = streamed;
    ctx.startedAt = this.#now();
    return ctx;
  }

  #open(ctx: RequestContext): void {
    for (const i of this.#opens) this.#stages[i]!.open!(ctx);
  }

  /**
   * The `before` hooks from the first stage not yet entered, the rest inside each entered stage's `wrap`;
   * then the upstream call (a stream: its iterator, on `ctx.source`). Resolves to an early answer, the
   * upstream completion, or undefined for a stream going upstream.
   */
  async #enter(ctx: RequestContext): Promise<Completion | undefined> {
    const stages = this.#stages;
    while (ctx.entered < stages.length) {
      const s = stages[ctx.entered]!;
      if (s.before !== undefined) {
        const r = s.before(ctx);
        const answer = r instanceof Promise ? await r : r;
        if (answer) return answer;
      }
      ctx.entered++;
      if (s.wrap !== undefined) return s.wrap(ctx, this.#enterBound);
    }
    if (!ctx.streamed) return this.#upstream.complete(ctx);
    ctx.source = this.#upstream.stream(ctx)[Symbol.asyncIterator]();
    return undefined;
  }

  async *#run(ctx: RequestContext, refused: unknown): AsyncGenerator<CompletionEvent> {
    let early: Completion | undefined;
    try {
      if (refused !== NOT_REFUSED) throw refused;
      early = await this.#enter(ctx);
    } catch (e) {
      const failure = this.#failure(ctx, e);
      await this.#fail(ctx, failure, ctx.entered);
      yield failure;
      return;
    }
    const source = early === undefined ? ctx.source! : replayAsStream(early);
    const scoped = early === undefined && this.#wraps.length > 0;
    let ended = false;
    try {
      for (;;) {
        const r = scoped ? await this.#within(ctx, this.#nextBound) : await source.next();
        if (r.done) throw new GatewayError('internal', 'stream ended without a terminal event');
        const ev = r.value;
        if (ev.type === 'done') {
          ended = true;
          const c = this.#withTraceId(ctx, ev.completion);
          const failed = await this.#finish(ctx, c);
          yield failed ?? (c === ev.completion ? ev : { type: 'done', completion: c });
          return;
        }
        if (ev.type === 'error') {
          ended = true;
          await this.#fail(ctx, ev, ctx.entered);
          yield ev;
          return;
        }
        this.#progress(ctx, ev);
        yield ev;
      }
    } catch (e) {
      // A stage's onEvent threw, or the source threw instead of ending with an error event.
      ended = true;
      const failure = this.#failure(ctx, e);
      await this.#fail(ctx, failure, ctx.entered);
      yield failure;
    } finally {
      // The source ends with this stream, also when it is still suspended at its terminal event: its own
      // clean-up (the attempt loop's timers and breaker slots) runs now, not never.
      await closeQuietly(source);
      // The consumer stopped reading before the end: every entered stage hears `cancelled`.
      if (!ended) await this.#fail(ctx, this.#cancelled(ctx), ctx.entered);
    }
  }

  /** What every stage may read of a stream's progress, then the stages' own per-event hooks. */
  #progress(ctx: RequestContext, ev: ProgressEvent): void {
    switch (ev.type) {
      case 'start':
        ctx.startEvent = ev;
        break;
      case 'switch':
        ctx.target = ev.to;
        break;
      case 'reasoning-delta':
      case 'text-delta':
      case 'tool-call-delta':
        if (ctx.firstOutputMs === null) ctx.firstOutputMs = round3(this.#now() - ctx.startedAt);
        break;
    }
    const events = this.#events;
    for (let k = 0; k < events.length; k++) {
      const i = events[k]!;
      if (i < ctx.entered) this.#stages[i]!.onEvent!(ctx, ev);
    }
  }

  /** The `done` hooks of the entered stages; if one throws, the stages outside it get `error` instead. */
  async #finish(ctx: RequestContext, c: Completion): Promise<CompletionErrorEvent | undefined> {
    const dones = this.#dones;
    for (let k = 0; k < dones.length; k++) {
      const i = dones[k]!;
      if (i >= ctx.entered) continue;
      try {
        const r = this.#stages[i]!.done!(ctx, c);
        if (r instanceof Promise) await r;
      } catch (e) {
        const failure = this.#failure(ctx, e);
        await this.#fail(ctx, failure, i);
        return failure;
      }
    }
    return undefined;
  }

  /** The `error` hooks of the entered stages below index `upTo`. */
  async #fail(ctx: RequestContext, failure: CompletionErrorEvent, upTo: number): Promise<void> {
    const errors = this.#errors;
    for (let k = 0; k < errors.length; k++) {
      const i = errors[k]!;
      if (i >= upTo) continue;
      try {
        const r = this.#stages[i]!.error!(ctx, failure);
        if (r instanceof Promise) await r;
      } catch {
        // Clean-up is best effort: the request already has its one error, and the other stages still need theirs.
      }
    }
  }

  /** The one place an exception becomes the request's typed error. */
  #failure(ctx: RequestContext, e: unknown): CompletionErrorEvent {
    const error = toGatewayError(e);
    const id = ctx.startEvent?.id ?? (ctx.streamed ? this.#newId() : '');
    return { type: 'error', id, error, partialText: '', attempts: attemptsOf(error) };
  }

  #cancelled(ctx: RequestContext): CompletionErrorEvent {
    return { type: 'error', id: ctx.startEvent?.id ?? '', error: new GatewayError('cancelled', 'stream not read to its end'), partialText: '', attempts: [] };
  }

  /** A completion carries the trace id of the request that returned it (an idempotent replay was made by another). */
  #withTraceId(ctx: RequestContext, c: Completion): Completion {
    return ctx.traceId !== null && c.traceId !== ctx.traceId ? { ...c, traceId: ctx.traceId } : c;
  }

  #within<T>(ctx: RequestContext, fn: (ctx: RequestContext) => T, from = 0): T {
    const wraps = this.#wraps;
    if (from === wraps.length) return fn(ctx);
    if (from === wraps.length - 1) return wraps[from]!.wrap!(ctx, fn);
    return wraps[from]!.wrap!(ctx, (c) => this.#within(c, fn, from + 1));
  }
}

/** Composes `stages` around `upstream`. The returned functions may be passed around detached. */
export function createPipeline(deps: PipelineDeps): RequestPipeline {
  const p = new Pipeline(deps);
  return {
    prepare: (request) => p.prepare(request),
    complete: (request) => p.complete(request),
    stream: (request) => p.stream(request),
  };
}
