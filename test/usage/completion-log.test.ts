import { describe, expect, it } from 'vitest';
import { CompletionLog } from '../../src/usage/completion-log.ts';

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
});
