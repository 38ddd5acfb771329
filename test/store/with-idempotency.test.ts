import { describe, expect, it } from 'vitest';
import type { StoreRequest } from '../../src/gateway/gateway-request.ts';
import { idempotencyStage } from '../../src/gateway/idempotency-stage.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { chat, collect, fakeGateway, pipelineOf } from './fake-gateway.ts';

function setup(fail: (n: number) => boolean = () => false) {
  const store = createMemoryStore();
  const upstream = fakeGateway((_, n) => ({ fail: fail(n) }));
  return { store, upstream, h: pipelineOf([idempotencyStage(store)], upstream) };
}

const alice = { name: 'alice', scope: 'client' as const };
const req = (key: string | undefined, content = 'pay invoice 7', extra: Partial<StoreRequest> = {}): StoreRequest => ({
  chat: chat(content, { temperature: 1 }),
  idempotencyKey: key,
  principal: alice,
  ...extra,
});

describe('idempotency stage', () => {
  it('a replay returns the stored completion, marked as a replay, without a second upstream call', async () => {
    const { h, upstream } = setup();
    const first = await h.complete(req('k-1'));
    const r = h.prepare(req('k-1'));
    const again = await h.complete(r);
    expect(upstream.calls).toBe(1);
    expect(again).toEqual(first);
    expect(r.idempotentReplay).toBe(true);
    // Without a key nothing is remembered.
    await h.complete(req(undefined));
    await h.complete(req(undefined));
    expect(upstream.calls).toBe(3);
  });

  it('the same key with a different body is a clear invalid_request on idempotencyKey', async () => {
    const { h } = setup();
    await h.complete(req('k-2'));
    await expect(h.complete(req('k-2', 'pay invoice 8'))).rejects.toMatchObject({ kind: 'invalid_request', param: 'idempotencyKey' });
    await expect(h.complete(req('k-2', 'pay invoice 7', { chat: chat('pay invoice 7', { temperature: 1, maxOutputTokens: 5 }) }))).rejects.toMatchObject({
      kind: 'invalid_request',
    });
    await expect(h.complete(req(''))).rejects.toMatchObject({ kind: 'invalid_request', param: 'idempotencyKey' });
    await expect(h.complete(req('x'.repeat(256)))).rejects.toMatchObject({ kind: 'invalid_request', param: 'idempotencyKey' });
  });

  it('a replay while the first request runs waits for it and gets its result', async () => {
    const { h, upstream } = setup();
    upstream.hold();
    const first = h.complete(req('k-3'));
    const second = h.complete(req('k-3'));
    const conflicting = h.complete(req('k-3', 'something else'));
    await expect(conflicting).rejects.toMatchObject({ kind: 'invalid_request', param: 'idempotencyKey' });
    await new Promise((r) => setTimeout(r, 10));
    upstream.release();
    const [a, b] = await Promise.all([first, second]);
    expect(b).toEqual(a);
    expect(upstream.calls).toBe(1);
  });

  it('a failed request frees its key for a retry', async () => {
    const { h, upstream } = setup((n) => n === 1);
    await expect(h.complete(req('k-4'))).rejects.toThrow('upstream failed');
    const ok = await h.complete(req('k-4'));
    expect(ok.id).toBe('cmpl_up_2');
    expect(upstream.calls).toBe(2);
  });

  it('keys are per caller', async () => {
    const { h, upstream } = setup();
    await h.complete(req('shared-name'));
    const bob = await h.complete(req('shared-name', 'pay invoice 7', { principal: { name: 'bob', scope: 'client' } }));
    expect(bob.id).toBe('cmpl_up_2');
    expect(upstream.calls).toBe(2);
  });

  it('streams: a replay of a streamed request is streamed from the stored result', async () => {
    const { h, upstream } = setup();
    const live = await collect(h.stream(req('k-5')));
    const r = h.prepare(req('k-5'));
    const replay = await collect(h.stream(r));
    expect(upstream.calls).toBe(1);
    expect(r.idempotentReplay).toBe(true);
    expect(replay.map((e) => e.type)).toEqual(['start', 'text-delta', 'done']);
    expect(replay.at(-1)).toEqual(live.at(-1));
    expect(await h.complete(req('k-5'))).toEqual((live.at(-1) as { completion: unknown }).completion);
    const bad = await collect(h.stream(req('k-5', 'different')));
    expect(bad).toEqual([expect.objectContaining({ type: 'error', error: expect.objectContaining({ kind: 'invalid_request', param: 'idempotencyKey' }) })]);
  });
});
