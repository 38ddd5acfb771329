import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { GatewayError, sharedAbortWatchers, type CompletionEvent } from '../../src/core/index.ts';
import { endOnShutdown } from '../../src/gateway/end-on-shutdown.ts';

/** A source whose reads the test answers one by one; records whether it was let go of. */
function controlled() {
  const reads: Array<{ resolve: (r: IteratorResult<CompletionEvent>) => void; reject: (e: unknown) => void }> = [];
  let returned = 0;
  const source = {
    next: () => new Promise<IteratorResult<CompletionEvent>>((resolve, reject) => reads.push({ resolve, reject })),
    return: () => {
      returned++;
      return Promise.resolve({ done: true as const, value: undefined });
    },
    throw: (e: unknown) => Promise.reject(e),
    [Symbol.asyncIterator]() {
      return this;
    },
  } as unknown as AsyncGenerator<CompletionEvent>;
  return { source, reads, returned: () => returned };
}

const start: CompletionEvent = { type: 'start', id: 'cmpl_1', provider: 'p', model: 'm', route: 'r', routeVersion: 1 } as CompletionEvent;
const delta = (text: string): CompletionEvent => ({ type: 'text-delta', text }) as CompletionEvent;

describe('endOnShutdown', () => {
  it('passes events through, then ends with a shutting_down error carrying the text, waking the read in progress', async () => {
    const ac = new AbortController();
    const { source, reads, returned } = controlled();
    const s = endOnShutdown(source, ac.signal);
    const first = s.next();
    reads[0]!.resolve({ done: false, value: start });
    expect(await first).toEqual({ done: false, value: start });
    const second = s.next();
    reads[1]!.resolve({ done: false, value: delta('Hel') });
    expect((await second).value).toEqual(delta('Hel'));
    const third = s.next();
    ac.abort();
    const cut = await third;
    expect(cut.done).toBe(false);
    expect(cut.value).toMatchObject({ type: 'error', id: 'cmpl_1', partialText: 'Hel', error: { kind: 'shutting_down' } });
    expect(returned()).toBe(1);
    // What the source says after the cut is not passed on, and nothing more is read.
    reads[2]!.resolve({ done: false, value: delta('lo') });
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(reads).toHaveLength(3);
  });

  it('cuts at once when the signal has already aborted, and ignores an answer that comes after the abort', async () => {
    const ac = new AbortController();
    const { source, reads } = controlled();
    const s = endOnShutdown(source, ac.signal);
    const read = s.next();
    ac.abort();
    reads[0]!.resolve({ done: false, value: delta('late') });
    expect((await read).value).toMatchObject({ type: 'error', partialText: '', error: { kind: 'shutting_down' } });
    const after = endOnShutdown(controlled().source, ac.signal);
    expect((await after.next()).value).toMatchObject({ type: 'error', error: { kind: 'shutting_down' } });
  });

  it('ends with the source, passes its failure on, and lets go of it on return()', async () => {
    const ac = new AbortController();
    const a = controlled();
    const ended = endOnShutdown(a.source, ac.signal);
    const r = ended.next();
    a.reads[0]!.resolve({ done: true, value: undefined });
    expect(await r).toEqual({ done: true, value: undefined });

    const b = controlled();
    const failing = endOnShutdown(b.source, ac.signal);
    const f = failing.next();
    b.reads[0]!.reject(new GatewayError('internal', 'boom'));
    await expect(f).rejects.toMatchObject({ kind: 'internal' });
    expect(await failing.next()).toEqual({ done: true, value: undefined });

    const c = controlled();
    const left = endOnShutdown(c.source, ac.signal);
    await left.return();
    expect(c.returned()).toBe(1);
    expect(await left.next()).toEqual({ done: true, value: undefined });
    // Nothing is left watching the server-wide signal: aborting it now cuts nothing.
    expect(sharedAbortWatchers(ac.signal)).toBe(0);
    ac.abort();
    expect(c.returned()).toBe(1);
  });

  it('puts one listener on the shared signal however many streams are open, and the abort cuts each stream still open', async () => {
    const ac = new AbortController();
    const sources = Array.from({ length: 50 }, () => controlled());
    const streams = sources.map((c) => endOnShutdown(c.source, ac.signal));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    expect(sharedAbortWatchers(ac.signal)).toBe(50);
    const reads = streams.map((s) => s.next());
    // Half end before the shutdown: their reads answer normally and the abort leaves them alone.
    for (let i = 0; i < 25; i++) sources[i]!.reads[0]!.resolve({ done: true, value: undefined });
    for (let i = 0; i < 25; i++) expect(await reads[i]).toEqual({ done: true, value: undefined });
    ac.abort();
    for (let i = 25; i < 50; i++) expect((await reads[i]!).value).toMatchObject({ type: 'error', error: { kind: 'shutting_down' } });
    expect(sources.map((c) => c.returned())).toEqual([...Array<number>(25).fill(0), ...Array<number>(25).fill(1)]);
    expect(sharedAbortWatchers(ac.signal)).toBe(0);
  });

  it('is the source itself without a signal', () => {
    const { source } = controlled();
    expect(endOnShutdown(source, undefined)).toBe(source);
  });
});
