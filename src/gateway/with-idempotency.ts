import { createHash, randomUUID } from 'node:crypto';
import { GatewayError } from '../core/index.ts';
import { isStoreUnavailable } from '../store/store-error.ts';
import type { Store } from '../store/store.ts';
import type { Completion, CompletionEvent } from './completion.ts';
import { markDegraded, parseCompletion, replayAsStream, serializeCompletion, type Handlers, type StoreRequest } from './handlers.ts';
import { bodyHashOf } from './request-hash.ts';

export interface WithIdempotencyOptions {
  /** How long a finished request's result is kept for replays. */
  ttlSeconds?: number;
  /** How long a claimed key stays pending if its request never finishes (its instance crashed). */
  pendingTtlMs?: number;
  /** How long a replay waits for the first request to finish. */
  waitMs?: number;
  newId?: () => string;
  onStoreError?: (operation: string, error: unknown) => void;
}

const KEY_RE = /^[\x21-\x7e]{1,255}$/;

function conflict(): GatewayError {
  return new GatewayError('invalid_request', 'this Idempotency-Key was already used with a different request body', { param: 'idempotencyKey' });
}

function stillRunning(): GatewayError {
  return new GatewayError('unavailable', 'a request with this Idempotency-Key is still in progress; retry later', {
    param: 'idempotencyKey',
    retryAfterMs: 1_000,
  });
}

type Begin = { run: true } | { run: false; completion: Completion };

/**
 * Idempotency-Key handling. The first request with a key runs and its completion is stored; a replay
 * (same key, same body) gets that completion back, unbilled and marked `meta.idempotentReplay`; a replay
 * while the first is running waits for it. The same key with another body is `invalid_request`
 * (param `idempotencyKey`). Keys are scoped per caller, so one tenant cannot read another's result.
 * A failed request releases its key so the client can retry with it. If the store is unreachable the
 * request runs without the guarantee (marked degraded) rather than failing.
 */
export function withIdempotency<R extends StoreRequest>(store: Store, opts: WithIdempotencyOptions = {}) {
  const ttlMs = (opts.ttlSeconds ?? 86_400) * 1000;
  const pendingTtlMs = opts.pendingTtlMs ?? 10 * 60_000;
  const waitMs = opts.waitMs ?? 60_000;
  const newId = opts.newId ?? (() => `cmpl_${randomUUID().replaceAll('-', '')}`);

  function scopedKey(req: R): string | undefined {
    const key = req.idempotencyKey;
    if (key === undefined) return undefined;
    if (!KEY_RE.test(key)) {
      throw new GatewayError('invalid_request', 'idempotencyKey: 1 to 255 printable ASCII characters', { param: 'idempotencyKey' });
    }
    return createHash('sha256').update(`${req.principal?.name ?? ''}\u0000${key}`).digest('hex');
  }

  function replay(req: R, value: string): Completion {
    const c = parseCompletion(value);
    if (!c) throw new GatewayError('internal', 'stored idempotent result is unreadable', { param: 'idempotencyKey' });
    if (req.meta) req.meta.idempotentReplay = true;
    return c;
  }

  async function begin(req: R, key: string, bodyHash: string): Promise<Begin> {
    const deadline = performance.now() + waitMs;
    // A few rounds: a pending first request may fail and release the key, and then this one runs.
    for (let round = 0; round < 3; round++) {
      const state = await store.idempotency.begin(key, bodyHash, pendingTtlMs);
      if (state.state === 'started') return { run: true };
      if (state.bodyHash !== bodyHash) throw conflict();
      if (state.state === 'done') return { run: false, completion: replay(req, state.value) };
      const after = await store.idempotency.wait(key, Math.max(0, deadline - performance.now()), req.signal);
      if (after.state === 'done') {
        if (after.bodyHash !== bodyHash) throw conflict();
        return { run: false, completion: replay(req, after.value) };
      }
      if (after.state === 'pending') throw stillRunning();
    }
    throw stillRunning();
  }

  /** `undefined` key: no idempotency for this request (none given, or the store is down). */
  async function start(req: R): Promise<{ key: string; bodyHash: string; begin: Begin } | undefined> {
    const key = scopedKey(req);
    if (key === undefined) return undefined;
    const bodyHash = bodyHashOf(req);
    try {
      return { key, bodyHash, begin: await begin(req, key, bodyHash) };
    } catch (e) {
      if (!isStoreUnavailable(e)) throw e;
      opts.onStoreError?.('idempotency begin', e);
      markDegraded(req, 'idempotency');
      return undefined;
    }
  }

  async function finish(key: string, bodyHash: string, completion: Completion | undefined): Promise<void> {
    try {
      if (completion && completion.finishReason !== 'error') await store.idempotency.complete(key, bodyHash, serializeCompletion(completion, { forOthers: false }), ttlMs);
      else await store.idempotency.abandon(key);
    } catch (e) {
      opts.onStoreError?.('idempotency finish', e);
    }
  }

  return (next: Handlers<R>): Handlers<R> => {
    async function* idempotentStream(req: R): AsyncGenerator<CompletionEvent> {
      let s: Awaited<ReturnType<typeof start>>;
      try {
        s = await start(req);
      } catch (e) {
        const error = e instanceof GatewayError ? e : new GatewayError('internal', String(e), { cause: e });
        yield { type: 'error', id: newId(), error, partialText: '', attempts: [] };
        return;
      }
      if (!s) {
        yield* next.stream(req);
        return;
      }
      if (!s.begin.run) {
        yield* replayAsStream(s.begin.completion);
        return;
      }
      let finished = false;
      try {
        for await (const ev of next.stream(req)) {
          if (ev.type === 'done' || ev.type === 'error') {
            finished = true;
            await finish(s.key, s.bodyHash, ev.type === 'done' ? ev.completion : undefined);
          }
          yield ev;
        }
      } finally {
        if (!finished) await finish(s.key, s.bodyHash, undefined);
      }
    }

    return {
      async complete(req) {
        if (req.idempotencyKey === undefined) return next.complete(req);
        const s = await start(req);
        if (!s) return next.complete(req);
        if (!s.begin.run) return s.begin.completion;
        let completion: Completion | undefined;
        try {
          completion = await next.complete(req);
          return completion;
        } finally {
          await finish(s.key, s.bodyHash, completion);
        }
      },

      stream(req): AsyncIterable<CompletionEvent> {
        // No key: the inner stream is handed through, without a generator layer (microtasks per event) of ours.
        return req.idempotencyKey === undefined ? next.stream(req) : idempotentStream(req);
      },
    };
  };
}
