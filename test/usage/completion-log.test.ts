import { describe, expect, it } from 'vitest';
import type { Completion } from '../../src/core/index.ts';
import { CompletionLog, completionBytes, createCompletionLog } from '../../src/usage/completion-log.ts';

const item = (id: string, route = 'default') => ({ id, route });

describe('CompletionLog (ring buffer)', () => {
  it('keeps the newest `capacity` items, newest first, and forgets evicted ids', () => {
    const log = new CompletionLog<{ id: string; route: string }>(3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) log.add(item(id));
    expect(log.list(10).items.map((i) => i.id)).toEqual(['e', 'd', 'c']);
    expect(log.get('b')).toBeUndefined();
    expect(log.get('c')).toEqual(item('c'));
  });

  it('pages with `after` and reports hasNextPage; filters', () => {
    const log = new CompletionLog<{ id: string; route: string }>(10);
    for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) log.add(item(id, i % 2 ? 'odd' : 'even'));
    expect(log.list(2)).toEqual({ items: [item('d', 'odd'), item('c', 'even')], hasNextPage: true });
    expect(log.list(2, 'c')).toEqual({ items: [item('b', 'odd'), item('a', 'even')], hasNextPage: false });
    expect(log.list(5, undefined, (x) => x.route === 'odd').items.map((x) => x.id)).toEqual(['d', 'b']);
  });

  it('put replaces an item in place (same id) without growing the log', () => {
    const log = new CompletionLog<{ id: string; route: string }>(2);
    log.add(item('a'));
    log.add(item('b'));
    log.put(item('a', 'changed'));
    expect(log.list(5).items).toEqual([item('b'), item('a', 'changed')]);
    log.add(item('c'));
    expect(log.get('a')).toBeUndefined();
    expect(log.list(5).items.map((x) => x.id)).toEqual(['c', 'b']);
  });

  it('with a byte budget forgets the oldest past it, never keeps an item over it alone, and counts replacements', () => {
    const sized = (id: string, size: number) => ({ id, route: 'r', size });
    const log = new CompletionLog<{ id: string; route: string; size: number }>(100, { maxBytes: 100, sizeOf: (x) => x.size });
    for (const id of ['a', 'b', 'c']) log.add(sized(id, 40));
    expect(log.list(10).items.map((x) => x.id)).toEqual(['c', 'b']);
    expect(log.get('a')).toBeUndefined();
    log.add(sized('huge', 101));
    expect(log.get('huge')).toBeUndefined();
    expect(log.list(10).items.map((x) => x.id)).toEqual(['c', 'b']);
    log.put(sized('c', 70));
    expect(log.list(10).items.map((x) => x.id)).toEqual(['c']);
    log.add(sized('d', 30));
    expect(log.list(10).items.map((x) => x.id)).toEqual(['d', 'c']);
  });

  it('with an item cap keeps nothing over it (add or put), and a put over it forgets the older version', () => {
    const sized = (id: string, size: number) => ({ id, route: 'r', size });
    const log = new CompletionLog<{ id: string; route: string; size: number }>(3, { maxBytes: 1_000, maxItemBytes: 50, sizeOf: (x) => x.size });
    log.add(sized('a', 10));
    log.add(sized('big', 51));
    expect(log.get('big')).toBeUndefined();
    log.put(sized('big', 51));
    expect(log.get('big')).toBeUndefined();
    log.add(sized('b', 10));
    // The same id grown over the cap: neither version is kept, so a read falls back to the ledger, not to a stale copy.
    log.put(sized('a', 60));
    expect(log.get('a')).toBeUndefined();
    expect(log.list(10)).toEqual({ items: [sized('b', 10)], hasNextPage: false });
    // The hole it left ages out like an item: the ring still holds `capacity` slots.
    log.add(sized('c', 10));
    log.add(sized('d', 10));
    expect(log.list(10).items.map((x) => x.id)).toEqual(['d', 'c', 'b']);
    log.add(sized('e', 10));
    expect(log.list(10).items.map((x) => x.id)).toEqual(['e', 'd', 'c']);
    expect(log.list(1, 'd')).toEqual({ items: [sized('c', 10)], hasNextPage: false });
  });

  it("the gateway's log keeps an ordinary answer but not a 10 MB one (completion(id) then reads the ledger)", () => {
    const completion = (id: string, content: string) =>
      ({ id, route: 'default', message: { role: 'assistant', content, toolCalls: [] } }) as unknown as Completion;
    const log = createCompletionLog();
    const ordinary = completion('cmpl_ok', 'x'.repeat(100_000));
    const huge = completion('cmpl_huge', 'x'.repeat(10_000_000));
    expect(completionBytes(huge)).toBeGreaterThan(4 * 1024 * 1024);
    log.add(ordinary);
    log.add(huge);
    log.put(huge);
    expect(log.get('cmpl_ok')).toBe(ordinary);
    expect(log.get('cmpl_huge')).toBeUndefined();
    expect(log.list(10).items).toEqual([ordinary]);
  });
});
