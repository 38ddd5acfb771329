/**
 * Governance across three gateway processes (the CLI, as deployed) on one Redis: a runtime key's own RPM and
 * budget hold across them exactly as config quotas do, its budget agrees with the usage ledger, its soft
 * threshold moves it to its soft route and fires exactly one budgetEvents event and one signed webhook
 * delivery, and an expired key gets 401 over REST, GraphQL and WebSocket.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { estimateCostUsd } from '../../src/gateway/limits-stage.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from '../../src/governance/webhook.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';
import { chat, dropPrefix, eventually, graphql, spawnGateway, uniquePrefix, writeConfig, type GatewayProcess } from './cluster.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const WEBHOOK_SECRET = 'whsec-governance-0123456789';
const KEY_TTL_MS = 300;
/** USD per 1M tokens: input free, so a request's real cost (output ≤ max tokens) never exceeds its estimate. */
const PRICE = { input: 0, output: 4_000 };

interface Delivery {
  body: string;
  verified: boolean;
  event: { id: string; lineId: string; subjectKind: string; subject: string; event: string; spentUsd: number; limitUsd: number };
}

const CREATE = `mutation($input: ApiKeyInput!) { createApiKey(input: $input) { secret key { id name } } }`;

describe('governance on three instances', () => {
  const prefix = uniquePrefix('governance');
  let openai: Simulator;
  let anthropic: Simulator;
  let gateways: GatewayProcess[] = [];
  let hook: Server;
  const deliveries: Delivery[] = [];
  let cleanup: () => Promise<void> = async () => undefined;
  const url = (i: number) => gateways[i % gateways.length]!.url;
  const wsUrl = (i: number) => `${url(i).replace('http', 'ws')}/graphql`;

  async function createKey(input: Record<string, unknown>): Promise<{ secret: string; id: string; name: string }> {
    const r = await graphql(url(0), ADMIN, CREATE, { input });
    expect(r.body.errors).toBeUndefined();
    const created = r.body.data!.createApiKey as { secret: string; key: { id: string; name: string } };
    return { secret: created.secret, ...created.key };
  }

  beforeAll(async () => {
    [openai, anthropic] = await Promise.all([startSimulator({ protocol: 'openai', port: 0 }), startSimulator({ protocol: 'anthropic', port: 0 })]);
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const verified = verifyWebhook({ secret: WEBHOOK_SECRET, body, timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string });
        deliveries.push({ body, verified, event: JSON.parse(body) });
        res.writeHead(verified ? 204 : 401).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const config = await writeConfig({
      store: { kind: 'redis', url: TEST_REDIS.url, prefix, localCacheMs: 100 },
      auth: { keyCacheTtlMs: KEY_TTL_MS },
      providers: [
        { id: 'sim-openai', protocol: 'openai', baseUrl: `${openai.url}/v1`, models: [{ id: 'gpt-4o-mini', price: PRICE }] },
        { id: 'sim-anthropic', protocol: 'anthropic', baseUrl: anthropic.url, models: [{ id: 'claude-haiku-4-5', price: PRICE }] },
      ],
      routes: [
        { name: 'default', targets: [{ provider: 'sim-openai', model: 'gpt-4o-mini' }] },
        { name: 'soft', targets: [{ provider: 'sim-anthropic', model: 'claude-haiku-4-5' }] },
      ],
      keys: [{ key: ADMIN, name: 'ops', scope: 'admin' }],
      alerts: { webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/budget-alerts`, secret: WEBHOOK_SECRET, maxAttempts: 3, timeoutMs: 2_000 },
    });
    cleanup = config.cleanup;
    gateways = await Promise.all([0, 1, 2].map(() => spawnGateway(config.path)));
  }, 30_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([openai?.close(), anthropic?.close(), new Promise((r) => (hook ? hook.close(r) : r(undefined)))]);
    await cleanup();
    await dropPrefix(prefix);
  });

  it('a runtime key created with rpm 30 admits exactly 30 of 45 requests spread across the instances', async () => {
    const key = await createKey({ name: 'rpm-30', limits: { rpm: 30 } });
    // The sliding window weighs the previous minute: keep the burst clear of a minute boundary.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 55_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
    const before = openai.stats.requests;
    const results = await Promise.all(
      Array.from({ length: 45 }, (_, i) => chat(url(i), key.secret, { model: 'default', messages: [{ role: 'user', content: `rpm ${i}` }], temperature: 1, max_tokens: 5 })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(30);
    const limited = results.filter((r) => r.status === 429);
    expect(limited).toHaveLength(15);
    expect(openai.stats.requests - before).toBe(30);
    expect(limited[0]!.headers.get('x-ratelimit-limit-requests')).toBe('30');
    const listed = await graphql(url(1), ADMIN, '{ apiKeys { id limits { rpm rpmRemaining } } }');
    expect((listed.body.data!.apiKeys as Array<{ id: string; limits: unknown }>).find((k) => k.id === key.id)!.limits).toEqual({ rpm: 30, rpmRemaining: 0 });
  });

  it('a runtime key’s $0.05 budget overspends by at most one reservation under 100 concurrent requests; remainingUsd matches the ledger', async () => {
    const key = await createKey({ name: `budget-${Date.now()}`, budget: { usd: 0.05, period: 'DAY' } });
    const from = new Date(Date.now() - 60_000).toISOString();
    const body = { model: 'default', messages: [{ role: 'user', content: 'spend' }], temperature: 1, max_tokens: 5 };
    const reservation = estimateCostUsd({ messages: [{ role: 'user', content: 'spend' }], maxOutputTokens: 5 }, PRICE, 1024);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => chat(url(i), key.secret, body)));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(100);
    expect(ok.length).toBeGreaterThan(0);
    expect(JSON.parse(refused[0]!.text).error.message).toContain('budget exceeded');
    const billed = ok.reduce((sum, r) => sum + Number(r.headers.get('x-switchboard-cost-usd')), 0);
    expect(billed).toBeLessThanOrEqual(0.05 + reservation + 1e-9);

    // Each instance's usage query writes its own waiting ledger records first; the last read sees them all.
    const to = new Date(Date.now() + 60_000).toISOString();
    let ledgerUsd = 0;
    for (const i of [0, 1, 2, 0]) {
      const usage = await graphql(url(i), ADMIN, 'query($f: UsageFilter!) { usage(filter: $f) { totals { costUsd requests } } }', { f: { from, to, apiKey: key.name } });
      expect(usage.body.errors).toBeUndefined();
      ledgerUsd = (usage.body.data!.usage as { totals: { costUsd: number } }).totals.costUsd;
    }
    expect(ledgerUsd).toBeCloseTo(billed, 9);

    // The client key reads its own line; reading reserves nothing (the same answer twice, on any instance).
    const mine = '{ budgets { id kind keyId budget { lineId limitUsd spentUsd reservedUsd remainingUsd soft resetsAt } } }';
    const seen = await Promise.all([0, 1, 2].map((i) => graphql(url(i), key.secret, mine)));
    for (const s of seen) expect(s.body.data).toEqual(seen[0]!.body.data);
    const [line] = seen[0]!.body.data!.budgets as Array<{ id: string; kind: string; keyId: string; budget: { lineId: string; spentUsd: number; reservedUsd: number; remainingUsd: number; resetsAt: string } }>;
    expect(line).toMatchObject({ id: `key:${key.id}`, kind: 'KEY', keyId: key.id });
    expect(line!.budget.reservedUsd).toBe(0);
    expect(line!.budget.spentUsd).toBeCloseTo(ledgerUsd, 9);
    expect(line!.budget.remainingUsd).toBeCloseTo(Math.max(0, 0.05 - ledgerUsd), 9);
    expect(Date.parse(line!.budget.resetsAt)).toBeGreaterThan(Date.now());
    // A client key sees no other line; the admin sees this one among all.
    const all = await graphql(url(2), ADMIN, '{ budgets { id budget { remainingUsd } } }');
    expect((all.body.data!.budgets as Array<{ id: string; budget: { remainingUsd: number } }>).find((b) => b.id === `key:${key.id}`)!.budget.remainingUsd).toBeCloseTo(line!.budget.remainingUsd, 9);
  });

  it('the soft threshold moves the key to its soft route and fires exactly one budgetEvents event and one webhook delivery', async () => {
    const events: Array<{ subject: string; event: string; subjectKind: string; lineId: string; limitUsd: number; spentUsd: number }> = [];
    const ws: Client = createClient({ url: wsUrl(2), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${ADMIN}` }, retryAttempts: 0 });
    const stop = ws.subscribe<{ budgetEvents: (typeof events)[number] }>(
      { query: 'subscription { budgetEvents { id lineId subjectKind subject event spentUsd limitUsd at } }' },
      { next: (r) => void (r.data && events.push(r.data.budgetEvents)), error: () => undefined, complete: () => undefined },
    );
    try {
      // The subscription is live once an event reaches it: probe with fresh keys until one does.
      await eventually(
        async () => {
          const probe = await createKey({ name: `probe-${Date.now()}`, budget: { usd: 0.03, softThreshold: 0.5 } });
          await chat(url(0), probe.secret, { model: 'default', messages: [{ role: 'user', content: 'probe' }], temperature: 1, max_tokens: 5 });
          return (await eventually(async () => (events.some((e) => e.subject === probe.name) ? true : undefined), 1_000, 'probe').catch(() => undefined)) ?? undefined;
        },
        15_000,
        'the budgetEvents subscription to be live',
      );

      const key = await createKey({ name: `soft-${Date.now()}`, budget: { usd: 1, softThreshold: 0.5, softRoute: 'soft' } });
      const body = { model: 'default', messages: [{ role: 'user', content: 'soft' }], temperature: 1, max_tokens: 5 };
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => chat(url(i), key.secret, body)));
      expect(results.map((r) => r.status)).toEqual(Array(40).fill(200));
      const providers = results.map((r) => r.headers.get('x-switchboard-provider'));
      // $0.02 reserved each: the 25th reservation reaches $0.50, and from there requests run on the soft route.
      expect(providers.filter((p) => p === 'sim-anthropic').length).toBeGreaterThanOrEqual(1);
      expect(providers.filter((p) => p === 'sim-openai').length).toBeGreaterThanOrEqual(24);
      expect(results.filter((r) => r.headers.get('x-switchboard-route') === 'soft').length).toBe(providers.filter((p) => p === 'sim-anthropic').length);

      const mine = () => events.filter((e) => e.subject === key.name);
      const delivered = () => deliveries.filter((d) => d.event.subject === key.name);
      await eventually(async () => (mine().length > 0 && delivered().length > 0 ? true : undefined), 10_000, 'the soft threshold alert');
      // A duplicate from another instance would arrive about as fast as the first: give it time to show.
      await new Promise((r) => setTimeout(r, 750));
      expect(mine()).toEqual([{ lineId: expect.stringMatching(new RegExp(`^key:key_[0-9a-f]+:day:\\d{4}-\\d{2}-\\d{2}$`)), subjectKind: 'KEY', subject: key.name, event: 'SOFT_THRESHOLD', limitUsd: 1, spentUsd: expect.any(Number), id: expect.any(String), at: expect.any(String) } as never]);
      expect(delivered()).toHaveLength(1);
      expect(delivered()[0]).toMatchObject({ verified: true, event: { event: 'SOFT_THRESHOLD', subjectKind: 'key', lineId: mine()[0]!.lineId } });
    } finally {
      stop();
      await ws.dispose();
    }
  }, 40_000);

  it('an expired key gets 401 on REST, GraphQL and WebSocket, on every instance; an open socket is closed at the expiry', async () => {
    const key = await createKey({ name: 'expiring', expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    const body = { model: 'default', messages: [{ role: 'user', content: 'exp' }], temperature: 1, max_tokens: 5 };
    for (const i of [0, 1, 2]) expect((await chat(url(i), key.secret, body)).status).toBe(200);
    const expired = await graphql(url(0), ADMIN, 'mutation($id: ID!, $input: ApiKeyUpdateInput!) { updateApiKey(id: $id, input: $input) { id expiresAt } }', {
      id: key.id,
      input: { expiresAt: new Date(Date.now() - 1_000).toISOString() },
    });
    expect(expired.body.errors).toBeUndefined();
    const rest = await chat(url(0), key.secret, body);
    expect(rest.status).toBe(401);
    expect(rest.text).toContain('expired');
    const gql = await graphql(url(0), key.secret, '{ viewer { name } }');
    expect(gql.status).toBe(401);
    expect(gql.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await wsCloseCode(wsUrl(0), key.secret)).toBe(4401);
    // The other instances trust their copy for at most the key cache TTL.
    for (const i of [1, 2]) await eventually(async () => ((await chat(url(i), key.secret, body)).status === 401 ? true : undefined), KEY_TTL_MS * 20, `expiry on instance ${i}`);
    expect((await graphql(url(2), key.secret, '{ viewer { name } }')).status).toBe(401);
    expect(await wsCloseCode(wsUrl(1), key.secret)).toBe(4401);

    // A key that expires while its socket is open: the socket is closed with 4401 then.
    const soon = await createKey({ name: 'expiring-soon', expiresAt: new Date(Date.now() + 1_500).toISOString() });
    let connected = false;
    const closed = await new Promise<number>((resolve) => {
      createClient({
        url: wsUrl(2),
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${soon.secret}` },
        lazy: false,
        retryAttempts: 0,
        on: { connected: () => void (connected = true), closed: (e) => resolve((e as { code: number }).code) },
        onNonLazyError: () => undefined,
      });
    });
    expect(connected).toBe(true);
    expect(closed).toBe(4401);
  }, 30_000);
});

/** The close code the server answers a connection_init with this key with (4401 for a refused key); 0 if it stays open. */
function wsCloseCode(url: string, secret: string): Promise<number> {
  return new Promise((resolve) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${secret}` },
      lazy: false,
      retryAttempts: 0,
      on: {
        connected: () => {
          resolve(0);
          void client.dispose();
        },
        closed: (e) => resolve((e as { code: number }).code),
      },
      onNonLazyError: () => undefined,
    });
  });
}
