/**
 * Upstream faults: each misbehaviour of the evil upstream (garbage JSON, wrong types, a truncated body or
 * SSE, an endless body or SSE, invalid UTF-8, a TCP reset, a 10 MB answer, a hang) and the simulator's own
 * faults (no end marker, a mid-stream disconnect or error event, 500, 429), through every API: REST and
 * REST streaming, the Messages API streamed, a GraphQL mutation and a graphql-ws subscription. A broken
 * upstream must come back as a mapped error (REST 502/503/504 or an in-band error frame, GraphQL a typed
 * code, a CompletionErrorEvent), never a success, a silent cut or a 500; and every upstream call must be
 * closed once the gateway has answered.
 */
import { EVIL_MODELS, type EvilModel } from '../lib/evil-upstream.ts';
import { auth } from '../lib/gateway.ts';
import { send } from '../lib/http.ts';
import { judgeGraphQL, judgeMessages, judgeRest } from '../lib/shapes.ts';
import { SIM_FAULTS } from '../lib/config.ts';
import type { CaseContext, ChaosCase } from '../lib/suite.ts';
import { judgeWsOperation, wsOpen, wsOperation } from '../lib/ws.ts';

/** Whether the fault breaks the answer (so a success would hide it), per route. Invalid UTF-8 and a big body are odd, not broken. */
const BROKEN: Record<string, { plain: boolean; stream: boolean }> = {
  ...Object.fromEntries(EVIL_MODELS.map((m) => [`evil-${m}`, { plain: true, stream: true }])),
  'evil-invalid-utf8': { plain: false, stream: false },
  'evil-huge-body': { plain: false, stream: false },
  // These two only change streams; a non-streamed answer is whole.
  'fault-omit-end-marker': { plain: false, stream: true },
  'fault-disconnect-mid-stream': { plain: false, stream: true },
  'fault-error-mid-stream': { plain: false, stream: true },
  'fault-status-500': { plain: true, stream: true },
  'fault-status-429': { plain: true, stream: true },
};

const STREAM = 'subscription($input: CompletionInput!) { completionStream(input: $input) { __typename ... on TextDeltaEvent { text } ... on CompletionErrorEvent { code message } } }';
const MUTATION = 'mutation($input: CompletionInput!) { createCompletion(input: $input) { id message { content } } }';

async function oneRoute(ctx: CaseContext, name: string, ws: Awaited<ReturnType<typeof wsOpen>>): Promise<void> {
  const broken = BROKEN[name]!;
  const headers = { ...auth, 'content-type': 'application/json' };
  const messages = [{ role: 'user', content: 'tell me something' }];
  const timeoutMs = 30_000;
  const calls: Promise<void>[] = [
    send(ctx.gateway.url, { path: '/v1/chat/completions', headers, body: JSON.stringify({ model: name, messages }), timeoutMs }).then((r) =>
      judgeRest(ctx.t, `${name} REST`, r, { brokenUpstream: broken.plain }),
    ),
    send(ctx.gateway.url, { path: '/v1/chat/completions', headers, body: JSON.stringify({ model: name, messages, stream: true }), timeoutMs }).then((r) =>
      judgeRest(ctx.t, `${name} REST stream`, r, { brokenUpstream: broken.stream }),
    ),
    send(ctx.gateway.url, { path: '/v1/messages', headers, body: JSON.stringify({ model: name, max_tokens: 64, messages, stream: true }), timeoutMs }).then((r) =>
      judgeMessages(ctx.t, `${name} Messages stream`, r, { brokenUpstream: broken.stream }),
    ),
    send(ctx.gateway.url, { path: '/graphql', headers, body: JSON.stringify({ query: MUTATION, variables: { input: { route: name, messages: [{ role: 'USER', content: 'tell me' }] } } }), timeoutMs }).then((r) => {
      judgeGraphQL(ctx.t, `${name} GraphQL mutation`, r, { brokenUpstream: broken.plain });
    }),
    wsOperation(ws, `sub-${name}`, { query: STREAM, variables: { input: { route: name, messages: [{ role: 'USER', content: 'tell me' }] } } }, timeoutMs).then((op) =>
      judgeWsOperation(ctx.t, `${name} graphql-ws stream`, op, { stream: true, brokenUpstream: broken.stream }),
    ),
  ];
  await Promise.all(calls);
}

export const upstreamFaults: ChaosCase = {
  name: 'upstream-faults',
  group: 'upstream faults',
  summary: 'garbage JSON, wrong types, truncated and endless bodies and SSE, invalid UTF-8, TCP reset, 10 MB answers, a hang, and the simulator faults, through REST, Messages, GraphQL and graphql-ws',
  budgetMs: () => 60_000,
  async run(ctx) {
    const ws = await wsOpen(ctx.gateway.url, { headers: auth });
    const names = [...EVIL_MODELS.map((m: EvilModel) => `evil-${m}`), ...Object.keys(SIM_FAULTS).map((n) => `fault-${n}`)];
    await Promise.all(names.map((n) => oneRoute(ctx, n, ws)));
    ws.close();
    // Every upstream call the gateway gave up on (endless, hang) must have been closed.
    const until = performance.now() + 3_000;
    while (ctx.fx.evil.inFlight() > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (ctx.fx.evil.inFlight() > 0) ctx.t.fail('other', 'upstream calls', `${ctx.fx.evil.inFlight()} still open at the evil upstream 3 s after every answer`);
    ctx.t.note(`evil upstream requests: ${JSON.stringify(ctx.fx.evil.requests)}`);
  },
};
