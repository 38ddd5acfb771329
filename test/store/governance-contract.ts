/**
 * The store contract of governance (runtime key updates, teams, read-only budget lines, budget alerts and
 * their pub/sub), which both backends must pass (governance-store.test.ts). Instances are `harness.peer`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BudgetEvent } from '../../src/core/index.ts';
import { hashApiKey } from '../../src/store/api-key-secret.ts';
import type { BudgetLine, BudgetLineAlert, Store } from '../../src/store/store.ts';
import type { StoreHarness } from './store-contract.ts';

const T0 = 1_700_000_040_000 - (1_700_000_040_000 % 60_000);
const DAY_END = T0 + 86_400_000;

const kinds = (alerts: readonly BudgetLineAlert[]) => alerts.map((a) => `${a.lineId}:${a.kind}`);

export function runGovernanceContract(name: string, h: StoreHarness): void {
  describe(`governance store contract: ${name}`, () => {
    const open: Store[] = [];
    const make = async () => {
      const s = await h.create();
      open.push(s);
      return s;
    };
    const peer = async (s: Store) => {
      const p = await h.peer(s);
      if (p !== s) open.push(p);
      return p;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    describe('API key updates', () => {
      it('keeps absent fields, clears nulls, is seen by lookup on another instance; unknown and revoked keys are not updated', async () => {
        const a = await make();
        const b = await peer(a);
        const { secret, key } = await a.apiKeys.create({ name: 'web', team: 'shop', routes: ['default'], limits: { rpm: 5 } });
        expect(key.limits).toEqual({ rpm: 5 });
        const updated = await b.apiKeys.update(key.id, {
          budget: { usd: 2, period: 'week' },
          routes: null,
          expiresAt: '2030-01-01T01:00:00+01:00',
        });
        expect(updated).toMatchObject({ id: key.id, name: 'web', team: 'shop', limits: { rpm: 5 }, budget: { usd: 2, period: 'week', softThreshold: 0.8 }, expiresAt: '2030-01-01T00:00:00.000Z' });
        expect(updated!.routes).toBeUndefined();
        expect(await a.apiKeys.lookup(hashApiKey(secret))).toEqual(updated);
        expect(await a.apiKeys.update('key_unknown', { name: 'x' })).toBeUndefined();
        await a.apiKeys.revoke(key.id);
        expect(await b.apiKeys.update(key.id, { name: 'again' })).toBeUndefined();
        expect((await a.apiKeys.list())[0]).toMatchObject({ name: 'web', revokedAt: expect.any(String) });
      });

      it('concurrent updates from several instances never lose each other’s fields', async () => {
        const a = await make();
        const instances = [a, await peer(a), await peer(a)];
        const { key } = await a.apiKeys.create({ name: 'web' });
        await Promise.all([
          instances[0]!.apiKeys.update(key.id, { limits: { rpm: 1 } }),
          instances[1]!.apiKeys.update(key.id, { team: 't' }),
          instances[2]!.apiKeys.update(key.id, { user: 'u' }),
          instances[0]!.apiKeys.update(key.id, { budget: { usd: 1 } }),
          instances[1]!.apiKeys.update(key.id, { models: ['m'] }),
        ]);
        const [stored] = await a.apiKeys.list();
        expect(stored).toMatchObject({ limits: { rpm: 1 }, team: 't', user: 'u', budget: { usd: 1 }, models: ['m'] });
      });

      it('rejects an invalid update and a record the schema refuses', async () => {
        const a = await make();
        const { key } = await a.apiKeys.create({ name: 'web' });
        await expect(a.apiKeys.update(key.id, { budget: { usd: -1 } })).rejects.toThrow();
        await expect(a.apiKeys.create({ name: 'x', expiresAt: 'tomorrow' })).rejects.toThrow();
      });
    });

    describe('teams', () => {
      it('upserts, lists on another instance, replaces, deletes', async () => {
        const a = await make();
        const b = await peer(a);
        await a.teams.upsert({ name: 'shop', budget: { usd: 5, period: 'month' } });
        await a.teams.upsert({ name: 'ops', limits: { rpm: 10 } });
        expect((await b.teams.list()).map((t) => t.name).sort()).toEqual(['ops', 'shop']);
        await b.teams.upsert({ name: 'shop', limits: { tpm: 100 } });
        const shop = (await a.teams.list()).find((t) => t.name === 'shop')!;
        expect(shop).toMatchObject({ name: 'shop', limits: { tpm: 100 }, updatedAt: expect.any(String) });
        expect(shop.budget).toBeUndefined();
        expect(await b.teams.delete('shop')).toBe(true);
        expect(await a.teams.delete('shop')).toBe(false);
        expect((await a.teams.list()).map((t) => t.name)).toEqual(['ops']);
        await expect(a.teams.upsert({ name: '' })).rejects.toThrow();
      });
    });

    describe('reading budget lines', () => {
      const line = (id: string, limitUsd: number, extra: Partial<BudgetLine> = {}): BudgetLine => ({ id, limitUsd, periodEndMs: DAY_END, ...extra });

      it('reports spent and reserved like status, without reserving or removing anything', async () => {
        const a = await make();
        const b = await peer(a);
        const l = line('key:web:day', 1);
        expect(await b.budgets.read([l], T0)).toEqual([{ id: 'key:web:day', limitUsd: 1, spentUsd: 0, reservedUsd: 0 }]);
        const r1 = await a.budgets.reserve([l], 0.3, 60_000, T0);
        const r2 = await a.budgets.reserve([l], 0.2, 1_000, T0);
        if (!r1.ok || !r2.ok) throw new Error('unreachable');
        await a.budgets.settle(r1.reservation, 0.25, T0);
        for (let i = 0; i < 3; i++) expect(await b.budgets.read([l], T0)).toEqual([{ id: 'key:web:day', limitUsd: 1, spentUsd: 0.25, reservedUsd: 0.2 }]);
        // An expired reservation no longer counts in a read, and the read left it in place for the writers to clear.
        expect((await b.budgets.read([l], T0 + 2_000))[0]).toMatchObject({ spentUsd: 0.25, reservedUsd: 0 });
        expect((await b.budgets.read([l], T0))[0]).toMatchObject({ reservedUsd: 0.2 });
        // Reading never took anything: the whole rest of the limit can still be reserved.
        expect((await a.budgets.reserve([l], 0.55, 60_000, T0)).ok).toBe(true);
      });
    });

    describe('budget alerts', () => {
      const line = (id: string, limitUsd: number, softThreshold: number, previousId?: string): BudgetLine => ({ id, limitUsd, periodEndMs: DAY_END, softThreshold, previousId });

      it('soft and exhausted fire once per line and period among 100 concurrent reservations on several instances', async () => {
        const a = await make();
        const instances = [a, await peer(a), await peer(a)];
        const key = line('key:web:day:d1', 0.1, 0.5);
        const team = line('team:t:day:d1', 10, 0.5);
        const results = await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const s = instances[i % 3]!;
            const r = await s.budgets.reserve([key, team], 0.003, 60_000, T0);
            const settled = r.ok ? await s.budgets.settle(r.reservation, 0.003, T0) : [];
            return [...r.alerts, ...settled];
          }),
        );
        const all = results.flat();
        expect(kinds(all).sort()).toEqual(['key:web:day:d1:exhausted', 'key:web:day:d1:soft']);
        const soft = all.find((x) => x.kind === 'soft')!;
        expect(soft.limitUsd).toBe(0.1);
        expect(soft.spentUsd).toBeLessThan(0.05);
        // The period's alerts are spent: nothing more fires for it.
        expect((await a.budgets.reserve([key], 0.003, 60_000, T0)).alerts).toEqual([]);
      });

      it('settling up to the limit fires exhausted once; a new period after an alerting one fires reset once', async () => {
        const a = await make();
        const b = await peer(a);
        const d1 = line('key:web:day:d1', 1, 0.9);
        const r = await a.budgets.reserve([d1], 0.1, 60_000, T0);
        if (!r.ok) throw new Error('unreachable');
        expect(r.alerts).toEqual([]);
        expect(kinds(await a.budgets.settle(r.reservation, 1, T0))).toEqual(['key:web:day:d1:exhausted']);
        const d2 = line('key:web:day:d2', 1, 0.9, 'key:web:day:d1');
        const [first, second] = await Promise.all([a.budgets.reserve([d2], 0.1, 60_000, T0), b.budgets.reserve([d2], 0.1, 60_000, T0)]);
        expect(kinds([...first!.alerts, ...second!.alerts])).toEqual(['key:web:day:d2:reset']);
        // A period after a quiet one: no reset.
        const d3 = line('key:web:day:d3', 1, 0.9, 'key:web:day:d2');
        expect((await a.budgets.reserve([d3], 0.1, 60_000, T0)).alerts).toEqual([]);
      });

      it('one oversized request refused by an untouched line is not an exhausted budget', async () => {
        const a = await make();
        const l = line('key:big:day:d1', 1, 0.8);
        expect(await a.budgets.reserve([l], 5, 60_000, T0)).toMatchObject({ ok: false, alerts: [] });
      });

      it('events published on one instance reach the subscribers of every instance', async () => {
        const a = await make();
        const b = await peer(a);
        const seen: Array<[string, BudgetEvent]> = [];
        a.alerts.subscribe((e) => seen.push(['a', e]));
        const off = b.alerts.subscribe((e) => seen.push(['b', e]));
        // Both subscriber connections are up before publishing (Redis pub/sub keeps no backlog).
        await h.advance(100);
        const event: BudgetEvent = { id: 'l:SOFT_THRESHOLD', lineId: 'l', subjectKind: 'key', subject: 'web', event: 'SOFT_THRESHOLD', spentUsd: 0.5, limitUsd: 1, at: new Date(T0).toISOString() };
        await a.alerts.publish(event);
        for (let i = 0; i < 200 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
        expect(seen.map(([who]) => who).sort()).toEqual(['a', 'b']);
        expect(seen[0]![1]).toEqual(event);
        off();
      });
    });
  });
}
