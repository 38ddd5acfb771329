/**
 * SIGTERM with 100 open streams (REST SSE, Messages SSE and graphql-ws subscriptions; half of them short
 * enough to finish within the grace period, half far longer): every stream must end with its API's end
 * marker or a final error frame (`shutting_down`), never a silent cut; the process must exit 0 within the
 * grace period (plus the second the cut streams get to flush their last event, plus process exit).
 */
import { ADMIN_KEY, auth } from '../lib/gateway.ts';
import { send, within, type HttpResult } from '../lib/http.ts';
import { judgeMessages, judgeRest, readAnthropicSse, readOpenAiSse } from '../lib/shapes.ts';
import { route, simProvider } from '../lib/config.ts';
import type { CaseContext, ChaosCase } from '../lib/suite.ts';
import { judgeWsOperation, terminalEvent, wsOpen, wsOperation, type WsConn, type WsOperation } from '../lib/ws.ts';

/** The server's own flush window after the grace period (CUT_FLUSH_MS in src/server/http-server.ts) and process exit. */
const FLUSH_AND_EXIT_MS = 2_500;

const STREAM = 'subscription($input: CompletionInput!) { completionStream(input: $input) { __typename ... on TextDeltaEvent { text } ... on CompletionErrorEvent { code message } } }';

export const sigtermStreams: ChaosCase = {
  name: 'sigterm-streams',
  group: 'shutdown',
  summary: 'SIGTERM with 100 open streams (REST, Messages, graphql-ws): each completes or ends with an error frame; exit 0 within the grace period',
  ownGateway: true,
  endsGateway: true,
  budgetMs: () => 60_000,
  async run(ctx: CaseContext) {
    const graceMs = ctx.short ? 3_000 : 5_000;
    const config = {
      server: { host: '127.0.0.1', port: 0, shutdownGraceMs: graceMs },
      providers: [
        // About 1.5 s: finishes while the gateway drains.
        simProvider(ctx.fx, 'short', { chunkDelayMs: 50, replyWords: 30 }),
        // About 40 s: still open when the grace period ends, so it is cut with shutting_down.
        simProvider(ctx.fx, 'long', { chunkDelayMs: 100, replyWords: 400 }),
      ],
      routes: [route('default', 'short'), route('long', 'long')],
      keys: [{ key: ADMIN_KEY, name: 'chaos-admin', scope: 'admin' }],
    };
    const g = await ctx.dedicated('sigterm', config);
    const headers = { ...auth, 'content-type': 'application/json' };
    let opened = 0;
    const onOpen = () => void opened++;
    const model = (i: number) => (i % 2 === 0 ? 'default' : 'long');
    const rest: Array<Promise<HttpResult>> = [];
    const messages: Array<Promise<HttpResult>> = [];
    const subs: Array<Promise<WsOperation>> = [];
    for (let i = 0; i < 60; i++) {
      rest.push(send(g.url, { path: '/v1/chat/completions', headers, body: JSON.stringify({ model: model(i), stream: true, messages: [{ role: 'user', content: `stream ${i}` }] }), timeoutMs: 30_000, agent: false, onResponse: onOpen }));
    }
    for (let i = 0; i < 20; i++) {
      messages.push(send(g.url, { path: '/v1/messages', headers, body: JSON.stringify({ model: model(i), max_tokens: 1024, stream: true, messages: [{ role: 'user', content: `stream ${i}` }] }), timeoutMs: 30_000, agent: false, onResponse: onOpen }));
    }
    const sockets: WsConn[] = await Promise.all(Array.from({ length: 4 }, () => wsOpen(g.url, { headers: auth })));
    for (let i = 0; i < 20; i++) {
      const conn = sockets[i % 4]!;
      const op = wsOperation(conn, `s${i}`, { query: STREAM, variables: { input: { route: model(i), messages: [{ role: 'USER', content: `stream ${i}` }] } } }, 30_000);
      subs.push(op);
      void conn.next((m) => m.id === `s${i}` && m.type === 'next', 10_000).then((m) => m && onOpen());
    }
    // Every stream open (headers out = first token sent) before the signal.
    const until = performance.now() + 10_000;
    while (opened < 100 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (opened < 100) ctx.t.note(`only ${opened} of 100 streams had started when SIGTERM was sent`);
    const t0 = performance.now();
    g.child.proc.kill('SIGTERM');
    const code = await within(g.child.exited, graceMs + 15_000);
    const tookMs = performance.now() - t0;

    let cut = 0;
    let completed = 0;
    for (const [i, r] of (await Promise.all(rest)).entries()) {
      judgeRest(ctx.t, `REST stream ${i} (${model(i)})`, r);
      const s = readOpenAiSse(r.body.toString());
      if (s.done) completed++;
      else if (s.errorFrame) cut++;
    }
    for (const [i, r] of (await Promise.all(messages)).entries()) {
      judgeMessages(ctx.t, `Messages stream ${i} (${model(i)})`, r);
      const s = readAnthropicSse(r.body.toString());
      if (s.stop) completed++;
      else if (s.error) cut++;
    }
    for (const [i, op] of (await Promise.all(subs)).entries()) {
      judgeWsOperation(ctx.t, `graphql-ws stream ${i} (${model(i)})`, op, { stream: true });
      const ev = terminalEvent(op.nexts);
      if (ev?.__typename === 'CompletionDoneEvent') completed++;
      else if (ev) cut++;
    }
    for (const s of sockets) s.close();
    ctx.t.saw(`exit-${String(code)}`);
    ctx.t.note(`SIGTERM with ${opened} open streams: ${completed} completed, ${cut} ended with an error frame; exit ${String(code)} after ${Math.round(tookMs)} ms (grace ${graceMs} ms)`);
    if (code === 'timeout') ctx.t.fail('other', 'shutdown', `still running ${graceMs + 15_000} ms after SIGTERM`);
    else if (code !== 0) ctx.t.fail('crash', 'shutdown', `exit code ${String(code)}`);
    if (tookMs > graceMs + FLUSH_AND_EXIT_MS) ctx.t.fail('other', 'shutdown', `took ${Math.round(tookMs)} ms; grace ${graceMs} ms + ${FLUSH_AND_EXIT_MS} ms`);
    if (completed + cut < 100) ctx.t.note(`${100 - completed - cut} streams neither completed nor carried an error frame (counted above)`);
  },
};
