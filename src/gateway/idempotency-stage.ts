import { hash } from 'node:crypto';
import { GatewayError, type Completion } from '../core/index.ts';
import { isStoreUnavailable } from '../store/store-error.ts';
import type { Store } from '../store/store.ts';
import type { Stage } from './pipeline.ts';
import type { RequestContext } from './request-context.ts';
import { bodyHashOf } from './request-hash.ts';
import { parseCompletion, serializeCompletion } from './stored-completion.ts';

export interface IdempotencyStageOptions {
  /** How long a finished request's result is kept for replays. */
  ttlSeconds?: number;
  /** How long a claimed key stays pending if its request never finishes (its instance crashed). */
  pendingTtlMs?: number;
  /** How long a replay waits for the first request to finish. */
  waitMs?: number;
  onStoreError?: (operation: string, error: unknown) => void;
}

/** The idempotency record a running request will complete or release. */
export interface IdempotencyRun {
  key: string;
  bodyHash: string;
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

/**
 * Idempotency-Key handling. The first request with a key runs and its completion is stored; a replay
 * (same key, same body) gets that completion back, unbilled and marked `idempotentReplay`; a replay
 * while the first is running waits for it. The same key with another body is `invalid_request` (param
 * `idempotencyKey`). Keys are scoped per caller, so one tenant cannot read another's result. A failed
 * request releases its key so the client can retry with it. If the store is unreachable the request runs
 * without the guarantee (marked degraded) rather than failing.
 */
export function idempotencyStage(store: Store, opts: IdempotencyStageOptions = {}): Stage {
  const ttlMs = (opts.ttlSeconds ?? 86_400) * 1000;
  const pendingTtlMs = opts.pendingTtlMs ?? 10 * 60_000;
  const waitMs = opts.waitMs ?? 60_000;

  function scopedKey(ctx: RequestContext, key: string): string {
    if (!KEY_RE.test(key)) {
      throw new GatewayError('invalid_request', 'idempotencyKey: 1 to 255 printable ASCII characters', { param: 'idempotencyKey' });
    }
    return hash('sha256', `${ctx.request.principal?.name ?? ''}\u0000${key}`, 'hex');
  }

  function replay(ctx: RequestContext, value: string): Completion {
    const c = parseCompletion(value);
    if (!c) throw new GatewayError('internal', 'stored idempotent result is unreadable', { param: 'idempotencyKey' });
    ctx.idempotentReplay = true;
    return c;
  }

  /** The stored completion of a replay, or undefined: this request runs under the key. */
  async function begin(ctx: RequestContext, key: string, bodyHash: string): Promise<Completion | undefined> {
    const deadline = performance.now() + waitMs;
    // A few rounds: a pending first request may fail and release the key, and then this one runs.
    for (let round = 0; round < 3; round++) {
      const state = await store.idempotency.begin(key, bodyHash, pendingTtlMs);
      if (state.state === 'started') return undefined;
      if (state.bodyHash !== bodyHash) throw conflict();
      if (state.state === 'done') return replay(ctx, state.value);
      const after = await store.idempotency.wait(key, Math.max(0, deadline - performance.now()), ctx.request.signal);
      if (after.state === 'done') {
        if (after.bodyHash !== bodyHash) throw conflict();
        return replay(ctx, after.value);
      }
      if (after.state === 'pending') throw stillRunning();
    }
    throw stillRunning();
  }

  async function finish(run: IdempotencyRun, completion: Completion | undefined): Promise<void> {
    try {
      if (completion && completion.finishReason !== 'error') await store.idempotency.complete(run.key, run.bodyHash, serializeCompletion(completion, { forOthers: false }), ttlMs);
      else await store.idempotency.abandon(run.key);
    } catch (e) {
      opts.onStoreError?.('idempotency finish', e);
    }
  }

  async function start(ctx: RequestContext, given: string): Promise<Completion | undefined> {
    const key = scopedKey(ctx, given);
    const bodyHash = bodyHashOf(ctx.request, ctx.resolved);
    let stored: Completion | undefined;
    try {
      stored = await begin(ctx, key, bodyHash);
    } catch (e) {
      if (!isStoreUnavailable(e)) throw e;
      opts.onStoreError?.('idempotency begin', e);
      ctx.markDegraded('idempotency');
      return undefined;
    }
    if (stored) return stored;
    ctx.idempotency = { key, bodyHash };
    return undefined;
  }

  // Hooks return a promise only when there is work: a request without a key costs no await here.
  return {
    name: 'idempotency',
    before: (ctx) => (ctx.request.idempotencyKey === undefined ? undefined : start(ctx, ctx.request.idempotencyKey)),
    done: (ctx, completion) => (ctx.idempotency ? finish(ctx.idempotency, completion) : undefined),
    error: (ctx) => (ctx.idempotency ? finish(ctx.idempotency, undefined) : undefined),
  };
}
