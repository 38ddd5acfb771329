/**
 * Embeddings go through the same pipeline as chat: a route of embedding models with fallback, RPM/TPM and
 * budgets, the response cache (on by default), the usage ledger with cost under operation EMBEDDINGS.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const APP = 'app-key-0123456789abcdef';
const RPM = 'rpm-key-0123456789abcdef';
const TPM = 'tpm-key-0123456789abcdef';
const BUDGET = 'budget-key-0123456789abcdef';

const EMBED = `mutation($input: EmbeddingsInput!) {
  createEmbeddings(input: $input) {
    id route provider { id } model { id } vectors costUsd priced latencyMs cached
    usage { inputTokens outputTokens totalTokens }
    attempts { provider { id } status errorCode }
  }
}`;

describe('embeddings through the request pipeline', () => {
  let stack: Stack;
  let client: OpenAI;
  const from = new Date(Date.now() - 60_000).toISOString();

  beforeAll(async () => {
    stack = await startStack((c) => ({
      ...c,
      keys: [
        { key: ADMIN, name: 'ops', scope: 'admin' },
        { key: APP, name: 'app' },
        { key: RPM, name: 'rpm' },
        { key: TPM, name: 'tpm' },
        { key: BUDGET, name: 'budget' },
      ],
      routes: [
        ...(c.routes ?? []),
        {
          name: 'embed',
          strategy: 'priority',
          targets: [
            { provider: 'sim-openai', model: 'text-embedding-3-small' },
            { provider: 'sim-gemini', model: 'gemini-embedding-001' },
          ],
        },
        { name: 'embed-nocache', strategy: 'priority', targets: [{ provider: 'sim-openai', model: 'text-embedding-3-small' }] },
      ],
      cache: { routes: { 'embed-nocache': { enabled: false } } },
      quotas: {
        keys: {
          rpm: { limits: { rpm: 2 } },
          tpm: { limits: { tpm: 40 } },
          // 500 tokens of text-embedding-3-small (0.02 USD per million tokens).
          budget: { budget: { usd: 0.00001, period: 'day' } },
        },
      },
    }));
    client = new OpenAI({ apiKey: APP, baseURL: `${stack.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await stack?.close();
  });

  beforeEach(() => {
    stack.sims.openai.setFaults({});
  });

  const embedRest = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    stack.post('/v1/embeddings', body, { authorization: `Bearer ${key}`, ...headers });

  it('REST: a route of embedding models fails over from a 503 to the next target', async () => {
    stack.sims.openai.setFaults({ status: 503 });
    const before = stack.sims.gemini.stats.requests;
    const r = await embedRest(APP, { model: 'embed', input: ['failover over rest'], encoding_format: 'float' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchboard-route')).toBe('embed');
    expect(r.headers.get('x-switchboard-provider')).toBe('sim-gemini');
    expect(r.headers.get('x-switchboard-attempts')).toBe('2');
    expect(r.headers.get('x-switchboard-attempt-log')).toMatch(/^sim-openai\/text-embedding-3-small;status=overloaded.*sim-gemini\/gemini-embedding-001;status=ok/);
    expect(Number(r.headers.get('x-switchboard-cost-usd'))).toBeGreaterThan(0);
    expect(r.json.data[0].embedding.length).toBeGreaterThan(7);
    expect(r.json.model).toBe('gemini-embedding-001');
    expect(stack.sims.gemini.stats.requests - before).toBe(1);
  });

  it('GraphQL: createEmbeddings fails over too, with vectors, usage, cost and attempts', async () => {
    stack.sims.openai.setFaults({ status: 503 });
    const r = await stack.gql(EMBED, { input: { model: 'embed', input: ['failover over graphql', 'second input'] } }, APP);
    expect(r.errors).toBeUndefined();
    const e = r.data.createEmbeddings;
    expect(e).toMatchObject({ route: 'embed', provider: { id: 'sim-gemini' }, model: { id: 'sim-gemini/gemini-embedding-001' }, priced: true, cached: false });
    expect(e.vectors).toHaveLength(2);
    expect(e.vectors[0]).not.toEqual(e.vectors[1]);
    expect(e.usage.inputTokens).toBeGreaterThan(0);
    expect(e.usage.outputTokens).toBe(0);
    expect(e.costUsd).toBeGreaterThan(0);
    expect(e.attempts.map((a: { provider: { id: string }; status: string }) => [a.provider.id, a.status])).toEqual([
      ['sim-openai', 'ERROR'],
      ['sim-gemini', 'OK'],
    ]);
    expect(e.attempts[0].errorCode).toBe('OVERLOADED');
  });

  it('is served from the cache on repeat (REST and GraphQL), unless the route turns the cache off', async () => {
    const calls = () => stack.sims.openai.stats.requests;
    const before = calls();
    const body = { model: 'text-embedding-3-small', input: ['cache me'], encoding_format: 'float' };
    const first = await embedRest(APP, body);
    expect(first.headers.get('x-switchboard-cache')).toBe('MISS');
    const again = await embedRest(APP, body);
    expect(again.headers.get('x-switchboard-cache')).toBe('HIT');
    expect(again.headers.get('x-switchboard-cost-usd')).toBe('0');
    expect(again.json.data).toEqual(first.json.data);
    // Other dimensions are another answer.
    expect((await embedRest(APP, { ...body, dimensions: 8 })).headers.get('x-switchboard-cache')).toBe('MISS');
    expect(calls() - before).toBe(2);

    const input = { model: 'text-embedding-3-small', input: ['cache me over graphql'] };
    const a = (await stack.gql(EMBED, { input }, APP)).data.createEmbeddings;
    const b = (await stack.gql(EMBED, { input }, APP)).data.createEmbeddings;
    expect([a.cached, b.cached]).toEqual([false, true]);
    expect(b.vectors).toEqual(a.vectors);
    expect(b.costUsd).toBe(0);
    expect((await stack.gql(EMBED, { input: { ...input, cache: { mode: 'BYPASS' } } }, APP)).data.createEmbeddings.cached).toBe(false);
    expect(calls() - before).toBe(4);

    const off = { model: 'embed-nocache', input: ['never cached'], encoding_format: 'float' };
    await embedRest(APP, off);
    expect((await embedRest(APP, off)).headers.get('x-switchboard-cache')).toBe('BYPASS');
    expect(calls() - before).toBe(6);
  });

  it('the official SDK gets the same vectors from a route as from the model', async () => {
    const viaModel = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'same text', encoding_format: 'float' });
    const viaRoute = await client.embeddings.create({ model: 'embed-nocache', input: 'same text', encoding_format: 'float' });
    expect(viaRoute.data[0]!.embedding).toEqual(viaModel.data[0]!.embedding);
  });

  it('counts against RPM and TPM, with rate-limit headers', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await embedRest(RPM, { model: 'embed', input: [`rpm ${i}`] })).status);
    expect(statuses).toEqual([200, 200, 429]);
    const ok = await embedRest(TPM, { model: 'embed', input: ['a short text'] });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ratelimit-limit-tokens')).toBe('40');
    expect(Number(ok.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(40);
    const tooMany = await embedRest(TPM, { model: 'embed', input: ['x'.repeat(400)] });
    expect(tooMany.status).toBe(429);
    expect(tooMany.json.error.code).toBe('rate_limited');
  });

  it('is billed against the budget: once spent, the next request is refused', async () => {
    const USD = 0.00001;
    let billed = 0;
    let refused: { status: number; json: any } | undefined;
    for (let i = 0; i < 12 && !refused; i++) {
      // Distinct inputs: a cache hit would cost nothing.
      const r = await embedRest(BUDGET, { model: 'text-embedding-3-small', input: [`budget ${i} `.repeat(40)] });
      if (r.status === 200) billed += Number(r.headers.get('x-switchboard-cost-usd'));
      else refused = r;
    }
    expect(refused?.status).toBe(429);
    expect(refused?.json.error.code).toBe('budget_exceeded');
    // Refused only once most of the budget was billed, never past it.
    expect(billed).toBeGreaterThan(USD / 2);
    expect(billed).toBeLessThanOrEqual(USD);
  });

  it('is in the ledger with its cost, under operation EMBEDDINGS, apart from chat', async () => {
    await stack.post('/v1/chat/completions', { model: 'local', messages: [{ role: 'user', content: 'a chat' }] }, { authorization: `Bearer ${APP}` });
    const to = new Date(Date.now() + 60_000).toISOString();
    const q = `query($from: DateTime!, $to: DateTime!) {
      byOp: usage(filter: { from: $from, to: $to, apiKey: "app" }, groupBy: [OPERATION, MODEL]) {
        series { group { operation model } totals { requests costUsd inputTokens outputTokens cacheHits } }
      }
      onlyEmbeddings: usage(filter: { from: $from, to: $to, apiKey: "app", operation: EMBEDDINGS }) { totals { requests } }
    }`;
    const r = await stack.gql(q, { from, to }, ADMIN);
    expect(r.errors).toBeUndefined();
    const series = r.data.byOp.series as Array<{ group: { operation: string; model: string }; totals: Record<string, number> }>;
    const gemini = series.find((s) => s.group.operation === 'EMBEDDINGS' && s.group.model === 'gemini-embedding-001')!;
    expect(gemini.totals.requests).toBe(2);
    expect(gemini.totals.costUsd).toBeGreaterThan(0);
    expect(gemini.totals.inputTokens).toBeGreaterThan(0);
    expect(gemini.totals.outputTokens).toBe(0);
    const openai = series.find((s) => s.group.operation === 'EMBEDDINGS' && s.group.model === 'text-embedding-3-small')!;
    expect(openai.totals.cacheHits).toBeGreaterThanOrEqual(2);
    expect(series.find((s) => s.group.operation === 'CHAT')?.totals.requests).toBe(1);
    const embeddingRequests = series.filter((s) => s.group.operation === 'EMBEDDINGS').reduce((n, s) => n + (s.totals.requests ?? 0), 0);
    expect(r.data.onlyEmbeddings.totals.requests).toBe(embeddingRequests);
  });
});
