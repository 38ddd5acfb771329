/** The versioned routing table. */
import { describe, expect, it } from 'vitest';
import { RouteConfigSchema, type RouteConfig, type RouteConfigInput } from '../../src/config/index.ts';
import { RouteTable } from '../../src/router/route-table.ts';

const route = (name: string, extra: Partial<RouteConfigInput> = {}): RouteConfig =>
  RouteConfigSchema.parse({ name, targets: [{ provider: 'openai', model: 'gpt' }], ...extra });

describe('RouteTable', () => {
  it('starts with the routes it was given, each with a version', () => {
    const table = new RouteTable([route('chat'), route('code')]);
    expect(table.list().map((v) => v.route.name).sort()).toEqual(['chat', 'code']);
    expect(table.get('chat')!.version).toBeGreaterThan(0);
    expect(table.get('missing')).toBeUndefined();
  });

  it('upsert replaces a route and bumps its version', () => {
    const table = new RouteTable([route('chat')]);
    const before = table.get('chat')!.version;
    const updated = table.upsert(route('chat', { maxAttempts: 9, targets: [{ provider: 'anthropic', model: 'sonnet' }] }));
    expect(updated.version).toBeGreaterThan(before);
    expect(table.get('chat')).toEqual(updated);
    expect(table.get('chat')!.route.maxAttempts).toBe(9);
    expect(table.get('chat')!.route.targets[0]!.provider).toBe('anthropic');
    expect(table.list()).toHaveLength(1);
    const again = table.upsert(route('chat'));
    expect(again.version).toBeGreaterThan(updated.version);
  });

  it('upsert adds a new route', () => {
    const table = new RouteTable();
    expect(table.list()).toEqual([]);
    const v = table.upsert(route('new'));
    expect(table.get('new')).toEqual(v);
  });

  it('delete removes a route, and reports whether there was one', () => {
    const table = new RouteTable([route('chat'), route('code')]);
    expect(table.delete('chat')).toBe(true);
    expect(table.get('chat')).toBeUndefined();
    expect(table.list().map((v) => v.route.name)).toEqual(['code']);
    expect(table.delete('chat')).toBe(false);
  });

  it('a route re-created after delete never reuses an old version', () => {
    const table = new RouteTable([route('chat')]);
    const old = table.upsert(route('chat')).version;
    table.delete('chat');
    expect(table.upsert(route('chat')).version).toBeGreaterThan(old);
  });
});
