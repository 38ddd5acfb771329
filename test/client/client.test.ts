import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, SwitchboardError, type CompletionStreamEvent, type SwitchboardClient } from '../../src/client/index.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const ADMIN_KEY = 'sk-client-admin-0123456789';
const CLIENT_KEY = 'sk-client-web-0123456789';
const hi = [{ role: 'user' as const, content: 'Say hello' }];

/** The rejection of a promise, which must reject. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('switchboard client against a gateway', () => {
  let stack: Stack;
  let admin: SwitchboardClient;
  let client: SwitchboardClient;

  beforeAll(async () => {
    stack = await startStack((c) => ({
      ...c,
      keys: [
        { key: ADMIN_KEY, name: 'ops', scope: 'admin' },
        { key: CLIENT_KEY, name: 'web', scope: 'client', routes: ['default'], team: 'frontend' },
      ],
    }));
    admin = createClient({ url: stack.url, apiKey: ADMIN_KEY });
    client = createClient({ url: `${stack.url}/`, apiKey: CLIENT_KEY });
  });
  afterAll(async () => {
    await admin?.close();
    await client?.close();
    await stack?.close();
  });
  afterEach(() => stack.sims.openai.setFaults({}));

  describe('complete', () => {
    it('returns a typed completion (lower-case roles mapped to the schema enum)', async () => {
      const c = await client.complete({ messages: hi, maxTokens: 50 });
      expect(c.id).toMatch(/\S/);
      expect(c.route).toBe('default');
      expect(c.provider.id).toBe('sim-openai');
      expect(c.model).toEqual({ id: 'sim-openai/gpt-4o-mini', name: 'gpt-4o-mini' });
      expect(c.message.role).toBe('ASSISTANT');
      expect(c.message.content).toMatch(/\w/);
      expect(c.finishReason).toBe('STOP');
      expect(c.usage.totalTokens).toBe(c.usage.inputTokens + c.usage.outputTokens);
      expect(c.usage.outputTokens).toBeGreaterThan(0);
      expect(c.attempts).toEqual([expect.objectContaining({ status: 'OK', provider: { id: 'sim-openai' } })]);
      expect(Date.parse(c.createdAt)).not.toBeNaN();
    });

    it('runs with the request options of the schema (task, quality, route)', async () => {
      const c = await admin.complete({ route: 'local', task: 'summarize', quality: 'FAST', messages: [{ role: 'SYSTEM', content: 'Be brief' }, ...hi] });
      expect(c.route).toBe('local');
      expect(c.provider.id).toBe('sim-ollama');
    });

    it('uses a fetch it is given', async () => {
      const seen: string[] = [];
      const c = createClient({
        url: stack.url,
        apiKey: CLIENT_KEY,
        fetch: (input, init) => {
          seen.push(`${init.method} ${input} ${new Headers(init.headers).get('authorization')}`);
          return fetch(input, init);
        },
      });
      await c.complete({ messages: hi });
      expect(seen).toEqual([`POST ${stack.url}/graphql Bearer ${CLIENT_KEY}`]);
    });

    it('rejects with the signal reason when aborted, without a call', async () => {
      const abort = new AbortController();
      abort.abort(new Error('not now'));
      const before = stack.sims.openai.stats.requests;
      await expect(client.complete({ messages: hi }, { signal: abort.signal })).rejects.toThrow('not now');
      expect(stack.sims.openai.stats.requests).toBe(before);
    });
  });

  describe('stream', () => {
    it('yields start, text deltas and done with the cost', async () => {
      const events: CompletionStreamEvent[] = [];
      for await (const ev of client.stream({ messages: hi })) events.push(ev);
      const types = events.map((e) => e.type);
      expect(types[0]).toBe('start');
      expect(types.at(-1)).toBe('done');
      expect(types.filter((t) => t === 'text').length).toBeGreaterThanOrEqual(1);
      expect(types.filter((t) => t === 'done' || t === 'error')).toEqual(['done']);
      const start = events[0] as Extract<CompletionStreamEvent, { type: 'start' }>;
      expect(start).toMatchObject({ route: 'default', provider: 'sim-openai', model: 'gpt-4o-mini' });
      const done = events.at(-1) as Extract<CompletionStreamEvent, { type: 'done' }>;
      expect(done.completion.id).toBe(start.completionId);
      expect(done.completion.priced).toBe(true);
      expect(done.completion.costUsd).toBeGreaterThan(0);
      expect(done.completion.usage.outputTokens).toBeGreaterThan(0);
      expect(done.completion.attempts).toHaveLength(1);
      const text = events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('');
      expect(text).toBe(done.completion.message.content);
    });

    it('an aborted signal ends the stream and the upstream call', async () => {
      stack.sims.openai.setFaults({ chunkDelayMs: 50, replyWords: 60 });
      const aborted = once(stack.sims.openai.events, 'abort');
      const before = stack.sims.openai.stats.aborted;
      const controller = new AbortController();
      const seen: string[] = [];
      const error = await rejection(
        (async () => {
          for await (const ev of client.stream({ messages: hi }, { signal: controller.signal })) {
            seen.push(ev.type);
            if (ev.type === 'text') controller.abort();
          }
        })(),
      );
      expect(error).toBe(controller.signal.reason);
      expect(seen).toEqual(['start', 'text']);
      await aborted;
      expect(stack.sims.openai.stats.aborted).toBe(before + 1);
    });

    it('breaking out of for-await ends the upstream call (with the ws package as WebSocket)', async () => {
      stack.sims.openai.setFaults({ chunkDelayMs: 50, replyWords: 60 });
      const aborted = once(stack.sims.openai.events, 'abort');
      const before = stack.sims.openai.stats.aborted;
      const c = createClient({ url: stack.url, apiKey: CLIENT_KEY, webSocketImpl: WebSocket });
      let texts = 0;
      for await (const ev of c.stream({ messages: hi })) {
        if (ev.type === 'text' && ++texts === 2) break;
      }
      expect(texts).toBe(2);
      await aborted;
      expect(stack.sims.openai.stats.aborted).toBe(before + 1);
      await c.close();
    });

    it('an upstream failure is an error event, not a throw', async () => {
      stack.sims.openai.setFaults({ errorAfterChunks: 2 });
      const events: CompletionStreamEvent[] = [];
      for await (const ev of client.stream({ messages: hi })) events.push(ev);
      const last = events.at(-1)!;
      expect(last.type).toBe('error');
      if (last.type !== 'error') return;
      expect(last.code).toMatch(/^[A-Z_]+$/);
      expect(last.partialText).toBe(events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join(''));
    });

    it('bad input throws a SwitchboardError naming the field', async () => {
      const error = await rejection(
        (async () => {
          for await (const _ of client.stream({ messages: [{ role: 'tool', content: 'x' }] })) void _;
        })(),
      );
      expect(error).toBeInstanceOf(SwitchboardError);
      expect(error).toMatchObject({ code: 'BAD_USER_INPUT', param: 'input.messages[0].toolCallId' });
    });

    it('a wrong key throws UNAUTHENTICATED', async () => {
      const c = createClient({ url: stack.url, apiKey: 'sk-not-a-key-0123456789' });
      const error = await rejection(
        (async () => {
          for await (const _ of c.stream({ messages: hi })) void _;
        })(),
      );
      expect(error).toBeInstanceOf(SwitchboardError);
      expect(error).toMatchObject({ code: 'UNAUTHENTICATED' });
    });
  });

  describe('errors', () => {
    it('bad input rejects with BAD_USER_INPUT and the param', async () => {
      const error = await rejection(client.complete({ messages: hi, temperature: 5 }));
      expect(error).toBeInstanceOf(SwitchboardError);
      const e = error as SwitchboardError;
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.param).toBe('input.temperature');
      expect(e.message).toMatch(/temperature/);
      expect(e.status).toBe(200);
      expect(e.errors).toHaveLength(1);
    });

    it('a wrong key rejects with UNAUTHENTICATED and HTTP 401', async () => {
      const error = await rejection(createClient({ url: stack.url, apiKey: 'sk-not-a-key-0123456789' }).viewer());
      expect(error).toMatchObject({ name: 'SwitchboardError', code: 'UNAUTHENTICATED', status: 401 });
      expect(String((error as Error).message)).not.toContain('sk-not-a-key');
    });

    it('a gateway that cannot be reached rejects with NETWORK_ERROR, calls and streams alike', async () => {
      const unreachable = createClient({ url: 'http://127.0.0.1:9' });
      const error = await rejection(unreachable.viewer());
      expect(error).toBeInstanceOf(SwitchboardError);
      expect(error).toMatchObject({ code: 'NETWORK_ERROR', status: undefined });
      const streamError = await rejection(
        (async () => {
          for await (const _ of unreachable.stream({ messages: hi })) void _;
        })(),
      );
      expect(streamError).toBeInstanceOf(SwitchboardError);
      expect(streamError).toMatchObject({ code: 'NETWORK_ERROR' });
    });

    it('refuses a URL that is not http(s)', () => {
      expect(() => createClient({ url: 'ws://127.0.0.1:4000' })).toThrow(/url/);
    });
  });

  describe('admin calls', () => {
    it('viewer tells the scope', async () => {
      expect(await admin.viewer()).toEqual({ name: 'ops', scope: 'ADMIN', localMode: false, team: null });
      expect(await client.viewer()).toEqual({ name: 'web', scope: 'CLIENT', localMode: false, team: 'frontend' });
    });

    it('providers and routes', async () => {
      const providers = await admin.providers();
      expect(providers.map((p) => p.id)).toEqual(expect.arrayContaining(['sim-openai', 'sim-anthropic', 'sim-gemini', 'sim-ollama']));
      const openai = providers.find((p) => p.id === 'sim-openai')!;
      expect(openai.models.map((m) => m.name)).toContain('gpt-4o-mini');
      expect(['HEALTHY', 'DEGRADED', 'DOWN']).toContain(openai.health.status);
      const routes = await admin.routes();
      const def = routes.find((r) => r.name === 'default')!;
      expect(def.targets[0]).toMatchObject({ provider: { id: 'sim-openai' }, model: { id: 'sim-openai/gpt-4o-mini' } });
      expect(def.version).toBeGreaterThanOrEqual(1);
      // A client key limited to routes sees only those.
      expect((await client.routes()).map((r) => r.name)).toEqual(['default']);
    });

    it('upsertRoute, explainRoute and deleteRoute', async () => {
      const route = await admin.upsertRoute({ name: 'client-test', strategy: 'PRIORITY', targets: [{ provider: 'sim-ollama', model: 'llama3.2' }, { provider: 'sim-gemini', model: 'gemini-2.5-flash' }] });
      expect(route.name).toBe('client-test');
      expect(route.targets.map((t) => t.model.id)).toEqual(['sim-ollama/llama3.2', 'sim-gemini/gemini-2.5-flash']);
      const again = await admin.upsertRoute({ name: 'client-test', targets: [{ provider: 'sim-ollama', model: 'llama3.2' }] });
      expect(again.version).toBeGreaterThan(route.version);
      const plan = await admin.explainRoute({ route: 'client-test', messages: hi });
      expect(plan).toMatchObject({ route: 'client-test', routeVersion: again.version, chosen: { provider: { id: 'sim-ollama' } } });
      expect(plan.candidates).toHaveLength(1);
      expect(await admin.deleteRoute('client-test')).toBe(true);
      expect(await admin.deleteRoute('client-test')).toBe(false);
      const error = await rejection(admin.explainRoute({ route: 'client-test', messages: hi }));
      expect(error).toMatchObject({ code: 'NOT_FOUND' });
    });

    it('completions and completion', async () => {
      const made = await client.complete({ messages: hi });
      const page = await admin.completions({ first: 50 });
      const listed = page.edges.map((e) => e.node.id);
      expect(listed).toContain(made.id);
      expect(page.pageInfo).toEqual({ hasNextPage: expect.any(Boolean), endCursor: expect.any(String) });
      const one = await admin.completion(made.id);
      expect(one?.message.content).toBe(made.message.content);
      expect(await admin.completion('cmpl_nope')).toBeNull();
      const filtered = await admin.completions({ first: 50, filter: { route: 'local' } });
      expect(filtered.edges.every((e) => e.node.route === 'local')).toBe(true);
    });

    it('usage sums the requests made', async () => {
      const before = await admin.usage({ filter: { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) } });
      await client.complete({ messages: hi });
      const report = await admin.usage({
        filter: { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) },
        groupBy: ['PROVIDER'],
        interval: 'MINUTE',
      });
      expect(report.totals.requests).toBe(before.totals.requests + 1);
      expect(report.interval).toBe('MINUTE');
      expect(report.series.find((s) => s.group.provider === 'sim-openai')?.totals.requests).toBeGreaterThan(0);
      // A client key sees only its own usage.
      const own = await client.usage({ filter: { from: before.from, to: before.to, apiKey: 'web' } });
      expect(own.totals.requests).toBeGreaterThan(0);
    });

    it('apiKeys, createApiKey and revokeApiKey', async () => {
      const created = await admin.createApiKey({ name: 'made-by-client', scope: 'CLIENT', routes: ['local'] });
      expect(created.secret.startsWith(created.key.prefix)).toBe(true);
      expect(created.key).toMatchObject({ name: 'made-by-client', scope: 'CLIENT', routes: ['local'], revokedAt: null });
      const runtime = createClient({ url: stack.url, apiKey: created.secret });
      expect(await runtime.viewer()).toMatchObject({ name: 'made-by-client', scope: 'CLIENT' });
      expect((await admin.apiKeys()).map((k) => k.id)).toContain(created.key.id);
      expect(await admin.revokeApiKey(created.key.id)).toBe(true);
      expect(await admin.revokeApiKey(created.key.id)).toBe(false);
      expect(await rejection(runtime.viewer())).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect((await admin.apiKeys()).find((k) => k.id === created.key.id)?.revokedAt).toEqual(expect.any(String));
    });

    it('a client key gets FORBIDDEN for admin-only calls', async () => {
      const calls: Array<[string, Promise<unknown>]> = [
        ['apiKeys', client.apiKeys()],
        ['createApiKey', client.createApiKey({ name: 'nope' })],
        ['revokeApiKey', client.revokeApiKey('key_nope')],
        ['upsertRoute', client.upsertRoute({ name: 'default', targets: [{ provider: 'sim-ollama', model: 'llama3.2' }] })],
        ['deleteRoute', client.deleteRoute('default')],
        ['explainRoute', client.explainRoute({ route: 'local', messages: hi })],
      ];
      for (const [name, call] of calls) {
        const error = await rejection(call);
        expect({ name, error }).toMatchObject({ name, error: { name: 'SwitchboardError', code: 'FORBIDDEN' } });
      }
      // Nothing changed.
      expect((await admin.routes()).find((r) => r.name === 'default')?.targets[0]?.provider.id).toBe('sim-openai');
    });
  });
});

describe('switchboard client in local mode (no key)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('calls and streams without a key, as the local admin', async () => {
    const ai = createClient({ url: stack.url });
    expect(await ai.viewer()).toMatchObject({ scope: 'ADMIN', localMode: true });
    const types: string[] = [];
    for await (const ev of ai.stream({ route: 'local', messages: hi })) types.push(ev.type);
    expect(types[0]).toBe('start');
    expect(types.at(-1)).toBe('done');
    await ai.close();
  });
});
