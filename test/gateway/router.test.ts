/**
 * Issue 4's acceptance list against the real adapters and the simulators with injected faults. The
 * router runs on a fake clock (breakers, retry-after); HTTP, streams and stall timers are real.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.ts';
import type { Completion, CompletionEvent } from '../../src/core/index.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { ask, collect, textOf } from '../helpers/gateway-requests.ts';
import { startStack, type ServiceStack } from '../helpers/start-stack.ts';

let stack: ServiceStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const start = async (edit?: (c: ConfigInput) => void) => {
  const clock = createFakeClock(1_000_000);
  stack = await startStack({ http: false, edit, clock });
  return { ...stack, clock };
};
const addRoute = (route: NonNullable<ConfigInput['routes']>[number]) => (c: ConfigInput) => {
  c.routes = [...(c.routes ?? []), route];
};

const terminal = (events: CompletionEvent[]) => events.at(-1)!;

describe('fallback by error kind', () => {
  it('primary answers 503 → the fallback serves; attempts list both', async () => {
    const { gateway, sims } = await start();
    sims.openai.setFaults({ status: 503 });
    const c = await gateway.complete(ask());
    expect(c.provider).toBe('sim-anthropic');
    expect(c.attempts).toMatchObject([
      { provider: 'sim-openai', status: 'error', errorKind: 'overloaded' },
      { provider: 'sim-anthropic', status: 'ok' },
    ]);
  });

  it('429 with retry-after 2 s → another target now; the limited one is not called again before 2 s', async () => {
    const { gateway, sims, clock } = await start();
    sims.openai.setFaults({ status: 429, retryAfterS: 2 });
    const first = await gateway.complete(ask());
    expect(first.provider).toBe('sim-anthropic');
    expect(first.attempts.map((a) => a.errorKind ?? 'ok')).toEqual(['rate_limited', 'ok']);
    expect(sims.openai.stats.requests).toBe(1);
    clock.advance(1_500);
    const second = await gateway.complete(ask());
    expect(second.attempts.map((a) => a.provider)).toEqual(['sim-anthropic']);
    expect(sims.openai.stats.requests).toBe(1);
    const explained = await gateway.explain(ask());
    expect(explained.excluded[0]).toMatchObject({ provider: 'sim-openai', reason: expect.stringContaining('rate limited') });
    clock.advance(500);
    sims.openai.setFaults({});
    const third = await gateway.complete(ask());
    expect(third.provider).toBe('sim-openai');
    expect(sims.openai.stats.requests).toBe(2);
  });

  it('context-length error → a target with a larger window', async () => {
    const { gateway, sims } = await start();
    // The simulator rejects what the declared window says fits: only the provider's error can tell.
    sims.openai.setFaults({ maxInputTokens: 3 });
    const c = await gateway.complete(ask('A prompt that is longer than three tokens'));
    expect(c.attempts.map((a) => [a.provider, a.errorKind ?? 'ok'])).toEqual([
      ['sim-openai', 'context_length_exceeded'],
      ['sim-anthropic', 'ok'],
    ]);
  });

  it('invalid request → no fallback, one attempt', async () => {
    const { gateway, sims } = await start();
    sims.openai.setFaults({ status: 400 });
    await expect(gateway.complete(ask())).rejects.toMatchObject({ kind: 'invalid_request', attempts: [{ provider: 'sim-openai' }] });
    expect(sims.anthropic.stats.requests).toBe(0);
  });
});

describe('streaming', () => {
  it('time-to-first-token timeout → fallback before the first token; the client never sees the stalled target', async () => {
    const { gateway, sims } = await start((c) => {
      c.routes![0]!.streamTimeouts = { firstTokenMs: 300 };
    });
    sims.openai.setFaults({ hang: true });
    const events = await collect(gateway.stream(ask()));
    expect(events.map((e) => e.type).filter((t) => t !== 'text-delta')).toEqual(['start', 'switch', 'done']);
    expect(events[0]).toMatchObject({ type: 'start', provider: 'sim-openai' });
    expect(events[1]).toMatchObject({ type: 'switch', errorKind: 'timeout', resumed: false, to: { provider: 'sim-anthropic' } });
    const done = terminal(events) as Extract<CompletionEvent, { type: 'done' }>;
    expect(done.completion.provider).toBe('sim-anthropic');
    expect(done.completion.attempts.map((a) => a.errorKind ?? 'ok')).toEqual(['timeout', 'ok']);
    expect(textOf(events)).toBe(done.completion.message.content);
  });

  it('disconnect after 5 chunks → a typed error event with the 5 chunks’ text', async () => {
    const { gateway, sims } = await start();
    sims.openai.setFaults({ disconnectAfterChunks: 5, replyWords: 20 });
    const events = await collect(gateway.stream(ask()));
    const deltas = events.filter((e) => e.type === 'text-delta');
    expect(deltas).toHaveLength(5);
    const err = terminal(events) as Extract<CompletionEvent, { type: 'error' }>;
    expect(err.type).toBe('error');
    expect(err.partialText).toBe(textOf(events));
    expect(err.partialText.split(' ').filter(Boolean)).toHaveLength(5);
    expect(events.some((e) => e.type === 'switch')).toBe(false);
  });

  it('with resumeStreams: true → one complete answer from two providers and a switch event', async () => {
    const { gateway, sims } = await start((c) => {
      c.routes![0]!.resumeStreams = true;
    });
    sims.openai.setFaults({ disconnectAfterChunks: 5, replyWords: 20 });
    const events = await collect(gateway.stream(ask()));
    const done = terminal(events) as Extract<CompletionEvent, { type: 'done' }>;
    expect(done.type).toBe('done');
    const sw = events.find((e) => e.type === 'switch');
    expect(sw).toMatchObject({ resumed: true, from: { provider: 'sim-openai' }, to: { provider: 'sim-anthropic' } });
    expect(done.completion.attempts).toMatchObject([
      { provider: 'sim-openai', status: 'error' },
      { provider: 'sim-anthropic', status: 'ok', resumed: true },
    ]);
    // One answer: the 5 chunks from OpenAI, then Anthropic's continuation, spliced.
    const text = textOf(events);
    expect(done.completion.message.content).toBe(text);
    const switchAt = events.indexOf(sw!);
    const before = textOf(events.slice(0, switchAt));
    expect(before.split(' ').filter(Boolean)).toHaveLength(5);
    expect(text.startsWith(before)).toBe(true);
    expect(text.length).toBeGreaterThan(before.length);
    // The continuation request carried the partial text as the assistant's own turn.
    expect(sims.anthropic.stats.requests).toBe(1);
  });
});

describe('circuit breakers', () => {
  it('open after N failures, skip the target, half-open after the cooldown, close on success; Provider.health follows', async () => {
    const { gateway, sims, clock } = await start((c) => {
      c.router = { breaker: { consecutiveFailures: 3, cooldownMs: 10_000 } };
    });
    sims.openai.setFaults({ status: 500 });
    for (let i = 0; i < 3; i++) expect((await gateway.complete(ask())).provider).toBe('sim-anthropic');
    expect(sims.openai.stats.requests).toBe(3);
    expect(gateway.insights.health('sim-openai')).toMatchObject({ status: 'DOWN', circuits: [{ model: 'gpt-4o-mini', state: 'open' }, { state: 'closed' }] });

    const skipped = await gateway.complete(ask());
    expect(skipped.attempts.map((a) => a.provider)).toEqual(['sim-anthropic']);
    expect(sims.openai.stats.requests).toBe(3);
    expect((await gateway.explain(ask())).excluded).toEqual([
      { provider: 'sim-openai', model: 'gpt-4o-mini', reason: expect.stringContaining('circuit open') },
    ]);

    clock.advance(10_000);
    sims.openai.setFaults({});
    const probe = await gateway.complete(ask());
    expect(probe.provider).toBe('sim-openai');
    expect(gateway.insights.health('sim-openai')).toMatchObject({ circuits: [{ state: 'closed' }, { state: 'closed' }] });
  });
});

describe('cascade', () => {
  it('escalates when the cheap answer fails the JSON-schema validator; both costs counted', async () => {
    const { gateway, sims } = await start(
      addRoute({
        name: 'json-cascade',
        strategy: 'cascade',
        targets: [{ provider: 'sim-gemini', model: 'gemini-2.5-flash' }, { provider: 'sim-openai', model: 'gpt-4o-mini' }],
        validator: { jsonSchema: { type: 'object', required: ['answer'], properties: { answer: { type: 'string', minLength: 20 } } } },
      }),
    );
    // The cheap model (gpt-4o-mini) answers with a one-word JSON answer; the next one with six words.
    sims.openai.setFaults({ replyWords: 1 });
    const c: Completion = await gateway.complete(ask('Describe the gateway', { route: 'json-cascade', chat: { messages: [{ role: 'user', content: 'Describe the gateway' }], responseFormat: { type: 'json_object' } } }));
    expect(c.provider).toBe('sim-gemini');
    expect(c.attempts).toMatchObject([
      { provider: 'sim-openai', status: 'error', errorKind: 'invalid_response', validationError: expect.stringContaining('answer') },
      { provider: 'sim-gemini', status: 'ok' },
    ]);
    const [cheap, strong] = c.attempts.map((a) => a.costUsd!);
    expect(cheap).toBeGreaterThan(0);
    expect(strong).toBeGreaterThan(0);
    expect(c.costUsd).toBeCloseTo(cheap! + strong!, 12);
    expect(JSON.parse(c.message.content!).answer.length).toBeGreaterThanOrEqual(20);
  });
});

describe('capabilities fail closed', () => {
  const withTools = (route: string) =>
    ask('Use the tool', {
      route,
      chat: { messages: [{ role: 'user', content: 'Use the lookup tool for Oslo' }], tools: [{ name: 'lookup', parameters: { type: 'object', properties: { city: { type: 'string' } } } }] },
    });
  const plainModel = (c: ConfigInput) => {
    c.providers!.find((p) => p.id === 'sim-ollama')!.models!.push({ id: 'tiny', contextWindow: 8_192, capabilities: [] });
  };

  it('a tools request never lands on a model without tools; when none qualifies the error lists why', async () => {
    const { gateway, sims } = await start((c) => {
      plainModel(c);
      addRoute({ name: 'mixed', targets: [{ provider: 'sim-ollama', model: 'tiny' }, { provider: 'sim-openai', model: 'gpt-4o-mini' }] })(c);
      addRoute({ name: 'toolless', targets: [{ provider: 'sim-ollama', model: 'tiny' }] })(c);
    });
    const c = await gateway.complete(withTools('mixed'));
    expect(c.provider).toBe('sim-openai');
    expect(c.message.toolCalls[0]!.name).toBe('lookup');
    await expect(gateway.complete(withTools('toolless'))).rejects.toMatchObject({
      kind: 'unsupported_feature',
      message: 'no target of route "toolless" can serve this request: sim-ollama/tiny does not support tools',
    });
    expect(sims.ollama.stats.requests).toBe(0);
  });
});

describe('routing table at runtime', () => {
  it('after upsertRoute the very next request uses the new route, and explainRoute matches what then happens', async () => {
    const { gateway } = await start();
    const before = gateway.routes.get('default')!.version;
    const v = gateway.routes.upsert({
      ...gateway.routes.get('default')!.route,
      strategy: 'cheapest',
      targets: [{ provider: 'sim-anthropic', model: 'claude-haiku-4-5', weight: 1 }, { provider: 'sim-gemini', model: 'gemini-2.5-flash', weight: 1 }],
    });
    expect(v.version).toBeGreaterThan(before);
    const explained = await gateway.explain(ask());
    expect(explained.routeVersion).toBe(v.version);
    expect(explained.candidates.map((t) => t.provider)).toEqual(['sim-gemini', 'sim-anthropic']);
    const c = await gateway.complete(ask());
    expect(c.routeVersion).toBe(v.version);
    expect(`${c.provider}/${c.model}`).toBe(`${explained.candidates[0]!.provider}/${explained.candidates[0]!.model}`);
  });

  it('per-request constraints: deny a provider, cost ceiling, quality', async () => {
    const { gateway } = await start();
    expect((await gateway.complete(ask('hi', { constraints: { deny: ['sim-openai'] } }))).provider).toBe('sim-anthropic');
    expect((await gateway.complete(ask('hi', { constraints: { quality: 'best' } }))).provider).toBe('sim-anthropic');
    await expect(gateway.complete(ask('hi', { constraints: { costCeilingUsd: 0 } }))).rejects.toMatchObject({ kind: 'invalid_request', message: expect.stringContaining('> ceiling') });
  });
});
