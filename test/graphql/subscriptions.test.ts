import { createClient, type Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GatewayError } from '../../src/core/index.ts';
import { ADMIN_KEY, CLIENT_KEY, answer, startHarness, type Harness } from './harness.ts';

const STREAM = /* GraphQL */ `
  subscription($input: CompletionInput!) {
    completionStream(input: $input) {
      __typename
      ... on CompletionStartEvent { completionId route routeVersion provider { id } model { id } }
      ... on TextDeltaEvent { text }
      ... on ToolCallDeltaEvent { index id name argumentsDelta }
      ... on SwitchEvent { from { provider { id } model { id } } to { provider { id } model { id } } reason errorCode }
      ... on CompletionDoneEvent {
        completion { id provider { id } message { content toolCalls { id name arguments } } finishReason timeToFirstTokenMs attempts { provider { id } status errorCode } }
      }
      ... on CompletionErrorEvent { completionId code message partialText retryable attempts { provider { id } status errorCode } }
    }
  }
`;

/** An event as selected by STREAM (fields of every member, checked with expect). */
interface Event {
  __typename: string;
  completionId?: string;
  text?: string;
  completion?: { timeToFirstTokenMs: number | null } & Record<string, unknown>;
  [field: string]: unknown;
}
const TERMINAL = new Set(['CompletionDoneEvent', 'CompletionErrorEvent']);

let h: Harness;
const clients: Client[] = [];
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  // Nothing above should have hit the "unexpected error" path (which hides the message from clients).
  expect(h.logged).toEqual([]);
  await h.close();
});
beforeEach(() => {
  h.registry.script('alpha', {});
  h.registry.script('beta', {});
});
afterEach(async () => {
  while (clients.length > 0) await clients.pop()!.dispose();
});

function client(key: string | null = ADMIN_KEY, extra: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  const c = createClient({
    url: h.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    ...extra,
  });
  clients.push(c);
  return c;
}

async function collect(c: Client, input: Record<string, unknown>): Promise<{ events: Event[]; errors: unknown[] }> {
  const events: Event[] = [];
  const errors: unknown[] = [];
  for await (const result of c.iterate({ query: STREAM, variables: { input } })) {
    if (result.errors) errors.push(...result.errors);
    if (result.data) events.push((result.data as { completionStream: Event }).completionStream);
  }
  return { events, errors };
}

const hi = (extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'USER', content: 'Hi' }], ...extra });

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('completionStream over graphql-ws', () => {
  it('sends a start event, the deltas and exactly one terminal event', async () => {
    h.registry.script('alpha', { parts: answer('Hel', 'lo', '!') });
    const { events, errors } = await collect(client(), hi());
    expect(errors).toEqual([]);
    expect(events.map((e) => e.__typename)).toEqual(['CompletionStartEvent', 'TextDeltaEvent', 'TextDeltaEvent', 'TextDeltaEvent', 'CompletionDoneEvent']);
    const [start, , , , done] = events;
    expect(start).toMatchObject({ route: 'default', provider: { id: 'alpha' }, model: { id: 'alpha/m1' } });
    expect(events.slice(1, 4).map((e) => e.text).join('')).toBe('Hello!');
    expect(done!.completion).toMatchObject({
      id: start!.completionId,
      provider: { id: 'alpha' },
      message: { content: 'Hello!' },
      finishReason: 'STOP',
      attempts: [{ provider: { id: 'alpha' }, status: 'OK', errorCode: null }],
    });
    expect(done!.completion!.timeToFirstTokenMs).toEqual(expect.any(Number));
    // The streamed completion is recorded like any other.
    expect(h.gateway.completions.get(start!.completionId!)).toBeDefined();
  });

  it('streams tool-call deltas', async () => {
    h.registry.script('beta', {
      parts: [
        { type: 'start' },
        { type: 'tool-call-delta', index: 0, id: 'call_1', name: 'look', argumentsDelta: '{"q":' },
        { type: 'tool-call-delta', index: 0, argumentsDelta: '1}' },
        { type: 'finish', finishReason: 'tool_calls', usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
      ],
    });
    const { events } = await collect(client(), hi({ tools: [{ name: 'look' }] }));
    expect(events.filter((e) => e.__typename === 'ToolCallDeltaEvent')).toEqual([
      { __typename: 'ToolCallDeltaEvent', index: 0, id: 'call_1', name: 'look', argumentsDelta: '{"q":' },
      { __typename: 'ToolCallDeltaEvent', index: 0, id: null, name: null, argumentsDelta: '1}' },
    ]);
    expect(events.at(-1)!.completion).toMatchObject({ finishReason: 'TOOL_CALLS', message: { content: null, toolCalls: [{ id: 'call_1', name: 'look', arguments: '{"q":1}' }] } });
  });

  it('emits a switch event when the first target fails before its first token', async () => {
    h.registry.script('alpha', { fail: new GatewayError('unavailable', 'alpha is down', { provider: 'alpha' }) });
    h.registry.script('beta', { parts: answer('from beta') });
    const { events } = await collect(client(), hi());
    expect(events.map((e) => e.__typename)).toEqual(['CompletionStartEvent', 'SwitchEvent', 'TextDeltaEvent', 'CompletionDoneEvent']);
    expect(events[1]).toEqual({
      __typename: 'SwitchEvent',
      from: { provider: { id: 'alpha' }, model: { id: 'alpha/m1' } },
      to: { provider: { id: 'beta' }, model: { id: 'beta/m1' } },
      reason: 'alpha is down',
      errorCode: 'UNAVAILABLE',
    });
    expect(events[3]!.completion).toMatchObject({
      provider: { id: 'beta' },
      message: { content: 'from beta' },
      attempts: [
        { provider: { id: 'alpha' }, status: 'ERROR', errorCode: 'UNAVAILABLE' },
        { provider: { id: 'beta' }, status: 'OK', errorCode: null },
      ],
    });
  });

  it('ends with one error event carrying the partial text when a stream breaks after its first token', async () => {
    h.registry.script('alpha', {
      parts: [
        { type: 'start' },
        { type: 'text-delta', text: 'Hel' },
        { type: 'text-delta', text: 'lo' },
        { type: 'error', error: new GatewayError('unavailable', 'connection reset', { provider: 'alpha' }) },
      ],
    });
    const before = h.registry.calls.length;
    const { events } = await collect(client(), hi());
    expect(events.map((e) => e.__typename)).toEqual(['CompletionStartEvent', 'TextDeltaEvent', 'TextDeltaEvent', 'CompletionErrorEvent']);
    expect(events.filter((e) => TERMINAL.has(e.__typename))).toHaveLength(1);
    expect(events[3]).toMatchObject({
      completionId: events[0]!.completionId,
      code: 'UNAVAILABLE',
      message: 'connection reset',
      partialText: 'Hello',
      retryable: true,
      attempts: [{ provider: { id: 'alpha' }, status: 'ERROR', errorCode: 'UNAVAILABLE' }],
    });
    // beta was never asked: content had already reached the client.
    expect(h.registry.calls.slice(before).map((c) => c.provider)).toEqual(['alpha']);
  });

  it('ends with an error event (not silence) when no route can serve the request', async () => {
    const { events } = await collect(client(), hi({ route: 'nope' }));
    expect(events).toEqual([
      expect.objectContaining({ __typename: 'CompletionErrorEvent', code: 'NOT_FOUND', partialText: '', retryable: false }),
    ]);
  });

  it('aborts the upstream call when the client unsubscribes mid-stream', async () => {
    h.registry.script('alpha', { parts: answer('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), delayMs: 100 });
    const before = h.registry.calls.length;
    const seen: string[] = [];
    const iterator = client().iterate({ query: STREAM, variables: { input: hi() } });
    for await (const result of iterator) {
      const ev = (result.data as { completionStream: Event }).completionStream;
      seen.push(ev.__typename);
      if (ev.__typename === 'TextDeltaEvent') break; // sends `complete` to the server
    }
    expect(seen).toEqual(['CompletionStartEvent', 'TextDeltaEvent']);
    const call = h.registry.calls[before]!;
    await until(() => call.aborted);
    expect(call.signal?.aborted).toBe(true);
  });

  it('aborts the upstream call when the socket closes mid-stream', async () => {
    h.registry.script('alpha', { parts: answer('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), delayMs: 100 });
    const before = h.registry.calls.length;
    const c = client();
    const firstDelta = new Promise<void>((resolve) => {
      c.subscribe({ query: STREAM, variables: { input: hi() } }, {
        next: (r) => {
          if ((r.data as { completionStream: Event } | undefined)?.completionStream.__typename === 'TextDeltaEvent') resolve();
        },
        error: () => undefined,
        complete: () => undefined,
      });
    });
    await firstDelta;
    await c.dispose();
    const call = h.registry.calls[before]!;
    await until(() => call.aborted);
  });

  it('reports bad input as a BAD_USER_INPUT error naming the field', async () => {
    const { events, errors } = await collect(client(), { messages: [{ role: 'TOOL', content: 'x' }] });
    expect(events).toEqual([]);
    expect(errors).toEqual([
      expect.objectContaining({
        message: 'input.messages[0].toolCallId: required for TOOL messages',
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', param: 'input.messages[0].toolCallId' }),
      }),
    ]);
  });

  it('applies the depth limit to ws operations', async () => {
    const deep = 'subscription { completionStream(input: { messages: [{ role: USER, content: "x" }] }) { ... on CompletionDoneEvent { completion { provider { models { provider { models { provider { models { id } } } } } } } } } }';
    const error = await new Promise<unknown>((resolve) => {
      client().subscribe({ query: deep }, { next: () => undefined, error: resolve, complete: () => resolve(undefined) });
    });
    expect(error).toEqual([expect.objectContaining({ message: expect.stringContaining('depth'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })]);
  });

  it('uses the key of connectionParams or of the upgrade request, and closes with 4401 without one', async () => {
    const closed = new Promise<{ code: number }>((resolve) => {
      const c = client(null, { on: { closed: (e) => resolve(e as { code: number }) } });
      c.subscribe({ query: '{ routes { name } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
    });
    expect((await closed).code).toBe(4401);

    class AuthorizedWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
      }
    }
    const viaHeader = client(null, { webSocketImpl: AuthorizedWebSocket });
    const result = await new Promise<unknown>((resolve, reject) => {
      viaHeader.subscribe({ query: '{ routes { name } }' }, { next: resolve, error: reject, complete: () => undefined });
    });
    expect(result).toMatchObject({ data: { routes: expect.arrayContaining([{ name: 'default' }]) } });
    // A client key still may not change routes over ws.
    const forbidden = await new Promise<{ errors: Array<{ extensions: { code: string } }> }>((resolve, reject) => {
      viaHeader.subscribe({ query: 'mutation { deleteRoute(name: "default") }' }, { next: (r) => resolve(r as never), error: reject, complete: () => undefined });
    });
    expect(forbidden.errors[0]!.extensions.code).toBe('FORBIDDEN');
  });
});
