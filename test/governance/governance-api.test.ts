/**
 * The governance API in one process (memory store): validation that names the field, updateApiKey, teams as
 * entities (config and runtime), budget lines for admin and client keys, who may subscribe to budgetEvents,
 * the config's new sections, and a key's expiry as the authenticator sees it.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigSchema } from '../../src/config/index.ts';
import { createAuthenticator } from '../../src/server/authenticator.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const SHOP = 'shop-key-0123456789abcdef';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack((c) => ({
    ...c,
    keys: [
      { key: ADMIN, name: 'ops', scope: 'admin' },
      { key: SHOP, name: 'shopper', team: 'shop' },
    ],
    teams: [{ name: 'shop', budget: { usd: 5, period: 'week' }, limits: { rpm: 100 } }],
    quotas: {
      keys: { shopper: { budget: { usd: 1 } } },
      teams: { legacy: { limits: { rpm: 7 } } },
      org: { budget: { usd: 1000, period: 'month' } },
      providers: { 'sim-openai': { budget: { usd: 50 } } },
      routes: { default: { limits: { rpm: 1000 } } },
    },
  }));
});
afterAll(() => stack?.close());

const CREATE = 'mutation($input: ApiKeyInput!) { createApiKey(input: $input) { secret key { id name team expiresAt limits { rpm tpm } budget { limitUsd period softThreshold softRoute } } } }';
const UPDATE = 'mutation($id: ID!, $input: ApiKeyUpdateInput!) { updateApiKey(id: $id, input: $input) { id name team routes expiresAt limits { rpm } budget { limitUsd period } } }';

describe('runtime key input', () => {
  it('errors name the field: BAD_USER_INPUT with the input path as param', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'k', budget: { usd: -1 } }, 'input.budget.usd'],
      [{ name: 'k', limits: { rpm: 0 } }, 'input.limits.rpm'],
      [{ name: 'k', budget: { usd: 1, softThreshold: 1.5 } }, 'input.budget.softThreshold'],
      [{ name: 'k', budget: { usd: 1, softRoute: 'nowhere' } }, 'input.budget.softRoute'],
      [{ name: 'k', expiresAt: new Date(Date.now() - 1_000).toISOString() }, 'input.expiresAt'],
      [{ name: '' }, 'input.name'],
    ];
    for (const [input, param] of cases) {
      const r = await stack.gql(CREATE, { input }, ADMIN);
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param });
      expect(r.errors?.[0]?.message).toContain(param);
    }
  });

  it('creates a key with limits, budget and expiry; updateApiKey keeps absent fields and clears nulls', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const created = await stack.gql(CREATE, { input: { name: 'svc', team: 'shop', routes: ['default'], limits: { rpm: 10 }, budget: { usd: 2, period: 'MONTH', softRoute: 'default' }, expiresAt } }, ADMIN);
    expect(created.errors).toBeUndefined();
    const { key } = created.data.createApiKey;
    expect(key).toMatchObject({ name: 'svc', team: 'shop', expiresAt, limits: { rpm: 10, tpm: null }, budget: { limitUsd: 2, period: 'MONTH', softThreshold: 0.8, softRoute: 'default' } });
    const updated = await stack.gql(UPDATE, { id: key.id, input: { routes: null, expiresAt: null, budget: { usd: 3, period: 'WEEK' } } }, ADMIN);
    expect(updated.errors).toBeUndefined();
    expect(updated.data.updateApiKey).toMatchObject({ name: 'svc', team: 'shop', routes: null, expiresAt: null, limits: { rpm: 10 }, budget: { limitUsd: 3, period: 'WEEK' } });
    const bad = await stack.gql(UPDATE, { id: key.id, input: { limits: { tpm: -5 } } }, ADMIN);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param: 'input.limits.tpm' });
    const missing = await stack.gql(UPDATE, { id: 'key_nope', input: { name: 'x' } }, ADMIN);
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const asClient = await stack.gql(UPDATE, { id: key.id, input: { name: 'x' } }, SHOP);
    expect(asClient.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('teams and budget lines', () => {
  it('config teams (`teams` and `quotas.teams`) and runtime teams are entities; a runtime one overrides, deleting it restores the config one', async () => {
    const list = async () => (await stack.gql('{ teamQuotas { name source budget { limitUsd period } limits { rpm } } }', {}, ADMIN)).data.teamQuotas;
    expect(await list()).toEqual([
      { name: 'legacy', source: 'CONFIG', budget: null, limits: { rpm: 7 } },
      { name: 'shop', source: 'CONFIG', budget: { limitUsd: 5, period: 'WEEK' }, limits: { rpm: 100 } },
    ]);
    const up = await stack.gql('mutation($input: TeamInput!) { upsertTeam(input: $input) { name source budget { limitUsd remainingUsd } limits { rpm } } }', { input: { name: 'shop', budget: { usd: 9 } } }, ADMIN);
    expect(up.data.upsertTeam).toEqual({ name: 'shop', source: 'RUNTIME', budget: { limitUsd: 9, remainingUsd: 9 }, limits: null });
    const bad = await stack.gql('mutation($input: TeamInput!) { upsertTeam(input: $input) { name } }', { input: { name: 'x', budget: { usd: 0 } } }, ADMIN);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param: 'input.budget.usd' });
    expect((await stack.gql('mutation { deleteTeam(name: "shop") }', {}, SHOP)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await stack.gql('mutation { deleteTeam(name: "shop") }', {}, ADMIN)).data.deleteTeam).toBe(true);
    expect((await stack.gql('mutation { deleteTeam(name: "shop") }', {}, ADMIN)).data.deleteTeam).toBe(false);
    expect((await list()).find((t: { name: string }) => t.name === 'shop').source).toBe('CONFIG');
    // A client key reads its own team, and no other; the full list is the admin's.
    expect((await stack.gql('{ teamQuota(name: "shop") { name budget { limitUsd } } }', {}, SHOP)).data.teamQuota).toEqual({ name: 'shop', budget: { limitUsd: 5 } });
    expect((await stack.gql('{ teamQuota(name: "legacy") { name } }', {}, SHOP)).data.teamQuota).toBeNull();
    expect((await stack.gql('{ teamQuotas { name } }', {}, SHOP)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('Query.budgets: every line for an admin (keys, teams, org, providers, routes); a client key its own key’s and team’s', async () => {
    const q = '{ budgets { id kind subject source budget { lineId limitUsd spentUsd remainingUsd period soft } limits { rpm rpmRemaining } } }';
    const before = (await stack.gql(q, {}, SHOP)).data.budgets;
    expect(before.map((b: { id: string }) => b.id)).toEqual(['key:shopper', 'team:shop']);
    const r = await stack.post('/v1/chat/completions', { model: 'default', messages: [{ role: 'user', content: 'hi' }], temperature: 1, max_tokens: 5 }, { authorization: `Bearer ${SHOP}` });
    expect(r.status).toBe(200);
    const cost = Number(r.headers.get('x-switchboard-cost-usd'));
    const after = (await stack.gql(q, {}, SHOP)).data.budgets;
    expect(after[0].budget.spentUsd).toBeCloseTo(cost, 9);
    expect(after[0].budget.remainingUsd).toBeCloseTo(1 - cost, 9);
    expect(after[1]).toMatchObject({ kind: 'TEAM', subject: 'shop', limits: { rpm: 100, rpmRemaining: 99 } });
    const admin = (await stack.gql(q, {}, ADMIN)).data.budgets;
    const ids = admin.map((b: { id: string }) => b.id);
    for (const id of ['key:shopper', 'team:shop', 'team:legacy', 'org', 'provider:sim-openai', 'route:default']) expect(ids).toContain(id);
    const org = admin.find((b: { id: string }) => b.id === 'org');
    expect(org).toMatchObject({ kind: 'ORG', subject: 'org', source: 'CONFIG', budget: { limitUsd: 1000, period: 'MONTH' } });
    expect(org.budget.spentUsd).toBeCloseTo(cost, 9);
    expect(admin.find((b: { id: string }) => b.id === 'provider:sim-openai').budget.spentUsd).toBeCloseTo(cost, 9);
  });

  it('budgetEvents is for admin keys only', async () => {
    const client = createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${SHOP}` }, retryAttempts: 0 });
    try {
      const err = await new Promise<unknown>((resolve) => {
        // A refused subscription answers with one result carrying the error, then completes.
        client.subscribe({ query: 'subscription { budgetEvents { id } }' }, { next: (r) => resolve(r.errors), error: resolve, complete: () => resolve(undefined) });
      });
      expect(JSON.stringify(err)).toContain('FORBIDDEN');
    } finally {
      await client.dispose();
    }
  });
});

describe('config', () => {
  const base = { providers: [{ id: 'p', protocol: 'openai', baseUrl: 'http://127.0.0.1:1/v1', models: [{ id: 'm' }] }] };

  it('takes weekly budgets, teams, org/provider/route quotas and alerts; names the field at fault', () => {
    const ok = ConfigSchema.safeParse({
      ...base,
      teams: [{ name: 't', budget: { usd: 1, period: 'week' } }],
      quotas: { org: { budget: { usd: 1 } }, providers: { p: { budget: { usd: 2, period: 'month' } } }, routes: { r: { limits: { rpm: 1 } } } },
      alerts: { webhookUrl: 'https://hooks.example.com/x', secret: 'a-secret-of-16-chars' },
    });
    expect(ok.success).toBe(true);
    expect(ok.data!.alerts).toMatchObject({ maxAttempts: 6, timeoutMs: 5_000 });
    const bad = ConfigSchema.safeParse({ ...base, alerts: { webhookUrl: 'https://x.example', secret: 'short' }, quotas: { providers: { p: { limits: { rpm: 1 } } } } });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toContain('alerts.secret');
    expect(paths.some((p) => p.startsWith('quotas.providers.p'))).toBe(true);
  });
});

describe('expiry in the authenticator', () => {
  it('a runtime key is refused from its expiresAt on, also while this instance holds it', async () => {
    const wall = createFakeClock(Date.UTC(2025, 5, 1));
    const store = createMemoryStore({ now: wall.now });
    const auth = createAuthenticator([{ key: ADMIN, name: 'ops', scope: 'admin' }], { store: store.apiKeys, wallNow: wall.now });
    try {
      const { secret, key } = await store.apiKeys.create({ name: 'temp', expiresAt: new Date(wall.now() + 60_000).toISOString() });
      expect((await auth.resolve(`Bearer ${secret}`)).keyId).toBe(key.id);
      expect(auth.authenticate(`Bearer ${secret}`).expiresAt).toBe(key.expiresAt);
      wall.advance(60_000);
      await expect(auth.resolve(`Bearer ${secret}`)).rejects.toMatchObject({ kind: 'auth', message: 'API key expired' });
      expect(() => auth.authenticate(`Bearer ${secret}`)).toThrow('API key expired');
      // Extended by an update made here: usable again at once.
      auth.update((await store.apiKeys.update(key.id, { expiresAt: null }))!);
      expect(auth.authenticate(`Bearer ${secret}`).name).toBe('temp');
    } finally {
      auth.close();
    }
  });
});
