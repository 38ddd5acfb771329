/**
 * Regressions for what the chaos suite (chaos/) found in the gateway, each pinned here at unit or loopback
 * scale so it fails fast without a chaos run:
 * - a GraphQL subscription kept its whole stream (text included) alive after its terminal event, through a
 *   listener on the server-wide shutdown signal that was never removed;
 * - a 413 for a body declared over the limit was lost to a connection reset about half the time (EPIPE);
 * - graphql-ws reported variables that do not coerce as INTERNAL_SERVER_ERROR.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { completionEvents } from '../../resolvers/subscription.ts';
import { GatewayError, sharedAbortWatchers, type CompletionEvent } from '../../src/core/index.ts';
import { endOnShutdown } from '../../src/gateway/end-on-shutdown.ts';
import { stopAll } from '../../bench/lib/procs.ts';
import { auth, startGateway, type Gateway } from '../../chaos/lib/gateway.ts';
import { send } from '../../chaos/lib/http.ts';
import { BODY_LIMIT } from '../../chaos/lib/payloads.ts';
import { mainConfig } from '../../chaos/lib/config.ts';
import { startFixtures, stopFixtures, type Fixtures } from '../../chaos/lib/suite.ts';

describe('a GraphQL subscription after its terminal event', () => {
  it('ends its source, so the shutdown signal lets go of the stream', async () => {
    const shutdown = new AbortController().signal;
    async function* gateway(): AsyncGenerator<CompletionEvent> {
      yield { type: 'start', id: 'cmpl_1', route: 'default', routeVersion: 1, provider: 'p', model: 'm' };
      yield { type: 'text-delta', text: 'x'.repeat(1_000) };
      yield { type: 'error', id: 'cmpl_1', error: new GatewayError('unavailable', 'gone'), partialText: '', attempts: [] };
      // Never reached by a consumer that stops at the terminal event.
      yield { type: 'text-delta', text: 'after' };
    }
    const events = completionEvents(endOnShutdown(gateway(), shutdown), new AbortController());
    expect(sharedAbortWatchers(shutdown)).toBe(1);
    const seen: string[] = [];
    for await (const e of events) seen.push(e.__typename);
    expect(seen).toEqual(['CompletionStartEvent', 'TextDeltaEvent', 'CompletionErrorEvent']);
    await new Promise((r) => setImmediate(r));
    // Nothing on the server-wide signal still holds the stream (and its text).
    expect(sharedAbortWatchers(shutdown)).toBe(0);
  });
});

// A gateway process of its own (the reset needs a server that is not on the client's event loop).
describe('a gateway process', () => {
  let fx: Fixtures;
  let g: Gateway;
  beforeAll(async () => {
    fx = await startFixtures();
    g = await startGateway('findings', mainConfig(fx));
  }, 30_000);
  afterAll(async () => {
    await stopAll(2_000);
    await stopFixtures(fx);
  });

  it('answers a body declared over the limit with a 413 the client reads, every time (REST, Messages, GraphQL)', async () => {
    const body = JSON.stringify({ model: 'default', max_tokens: 16, messages: [{ role: 'user', content: 'a'.repeat(BODY_LIMIT + 1024) }] });
    const statuses: string[] = [];
    for (let i = 0; i < 10; i++) {
      for (const path of ['/v1/chat/completions', '/v1/messages', '/graphql']) {
        const r = await send(g.url, { path, headers: { ...auth, 'content-type': 'application/json' }, body, agent: false, timeoutMs: 10_000 });
        statuses.push(`${path} ${r.status || r.error}`);
      }
    }
    expect(statuses.filter((s) => !s.endsWith(' 413'))).toEqual([]);
  });

  it('codes graphql-ws variables that do not coerce as BAD_USER_INPUT, not INTERNAL_SERVER_ERROR', async () => {
    const ws = new WebSocket(`${g.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers: auth });
    const messages: Array<{ type: string; id?: string; payload?: any }> = [];
    const got = (type: string) =>
      new Promise<{ payload?: any }>((resolve) => {
        const check = () => {
          const m = messages.find((x) => x.type === type);
          if (m) resolve(m);
          else setTimeout(check, 10);
        };
        check();
      });
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'connection_init' }));
    await got('connection_ack');
    ws.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: 'subscription($input: CompletionInput!) { completionStream(input: $input) { __typename } }', variables: { input: { messages: 5 } } } }));
    const next = await got('next');
    ws.close();
    expect(next.payload.errors.map((e: any) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
  });
});
