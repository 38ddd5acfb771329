/**
 * Malformed input on graphql-ws (/graphql, graphql-transport-ws): protocol violations must close the socket
 * with the protocol's 44xx code (or 1009 for an oversized frame), never drop it without a close frame or
 * close it as an internal error (1011); bad operations must get an `error` message whose errors carry
 * `extensions.code`; odd-but-valid ones must run to their terminal event.
 */
import { auth } from '../lib/gateway.ts';
import { pool, within } from '../lib/http.ts';
import { aliases, BODY_LIMIT, ctorKey, deepArray, deepObject, deepSelection, LONE_SURROGATE_ESCAPED, protoKey } from '../lib/payloads.ts';
import type { CaseContext, ChaosCase } from '../lib/suite.ts';
import { judgeWsOperation, wsOpen, wsOperation, type WsConn } from '../lib/ws.ts';

const STREAM = 'subscription($input: CompletionInput!) { completionStream(input: $input) { __typename ... on TextDeltaEvent { text } ... on CompletionErrorEvent { code message } } }';
const input = (content: string) => ({ input: { messages: [{ role: 'USER', content }] } });

/** Codes a server may close with for a client's protocol violation. */
const PROTOCOL_CLOSES = new Set([4400, 4401, 4403, 4409, 4429, 4499, 1002, 1003, 1007, 1008, 1009]);

/** A connection that gets `send` and must then be closed by the server with a protocol code (within 5 s). */
async function violation(ctx: CaseContext, label: string, init: boolean, send: (c: WsConn) => void): Promise<void> {
  let conn: WsConn;
  try {
    conn = await wsOpen(ctx.gateway.url, { init: init ? {} : false, headers: auth });
  } catch (e) {
    ctx.t.saw('ws-open-failed');
    ctx.t.fail('other', label, `could not open: ${(e as Error).message}`);
    return;
  }
  send(conn);
  const closed = await within(conn.closed, 5_000);
  conn.close();
  if (closed === 'timeout') {
    ctx.t.saw('ws-still-open');
    ctx.t.fail('other', label, 'the socket stayed open after a protocol violation');
    return;
  }
  ctx.t.saw(`ws-close-${closed.code}`);
  if (closed.code === 1006) ctx.t.fail('wrongShape', label, 'socket dropped without a close frame');
  else if (closed.code === 1011) ctx.t.fail('unexpected5xx', label, `closed as an internal error: ${closed.reason}`);
  else if (!PROTOCOL_CLOSES.has(closed.code)) ctx.t.fail('wrongShape', label, `closed with ${closed.code} ${closed.reason}`);
}

/** connection_init with a 10k-deep payload: acknowledged or refused with a protocol close, within 5 s. */
async function deepInit(ctx: CaseContext): Promise<void> {
  const label = 'connection_init with a 10k-deep payload';
  const conn = await wsOpen(ctx.gateway.url, { init: false, headers: auth });
  conn.send(`{"type":"connection_init","payload":${deepObject()}}`);
  const m = await conn.next((x) => x.type === 'connection_ack', 5_000);
  conn.close();
  const closed = await conn.closed;
  if (m) return void ctx.t.saw('ws-ack');
  ctx.t.saw(`ws-close-${closed.code}`);
  if (closed.code === 1006) ctx.t.fail('wrongShape', label, 'socket dropped without a close frame');
  else if (closed.code === 1011) ctx.t.fail('unexpected5xx', label, `closed as an internal error: ${closed.reason}`);
  else if (!PROTOCOL_CLOSES.has(closed.code)) ctx.t.fail('wrongShape', label, `closed with ${closed.code} ${closed.reason}`);
}

export const wsInput: ChaosCase = {
  name: 'ws-input',
  group: 'malformed input',
  summary: 'graphql-ws: garbage frames, messages out of order, oversized frames, 10k-deep documents and variables, 1,000 aliases, 1,000 operations on one socket',
  budgetMs: (short) => (short ? 60_000 : 90_000),
  async run(ctx) {
    // Protocol violations, each on its own socket.
    await violation(ctx, 'text that is not JSON', false, (c) => c.send('not json at all'));
    await violation(ctx, 'binary garbage', false, (c) => c.ws.send(Buffer.from([0xff, 0x00, 0xfe, 0x01])));
    await violation(ctx, 'subscribe before connection_init', false, (c) => c.send({ type: 'subscribe', id: '1', payload: { query: '{ __typename }' } }));
    await violation(ctx, 'connection_init twice', true, (c) => c.send({ type: 'connection_init', payload: {} }));
    await violation(ctx, 'unknown message type', true, (c) => c.send({ type: 'explode', id: '1' }));
    await violation(ctx, 'subscribe without an id', true, (c) => c.send({ type: 'subscribe', payload: { query: '{ __typename }' } }));
    await violation(ctx, 'subscribe with a payload that is a string', true, (c) => c.send({ type: 'subscribe', id: '1', payload: 'query' }));
    await violation(ctx, 'variables that are a string', true, (c) => c.send({ type: 'subscribe', id: '1', payload: { query: STREAM, variables: 'x' } }));
    await violation(ctx, 'a frame over the body limit', true, (c) => c.send({ type: 'subscribe', id: '1', payload: { query: '{ __typename }', variables: { pad: 'x'.repeat(BODY_LIMIT + 1024) } } }));
    await violation(ctx, 'duplicate operation id', true, (c) => {
      c.send({ type: 'subscribe', id: 'dup', payload: { query: STREAM, variables: input('a long one please') } });
      c.send({ type: 'subscribe', id: 'dup', payload: { query: STREAM, variables: input('again') } });
    });
    await deepInit(ctx);

    // Bad and odd operations on one socket (each must end with its own error or terminal event).
    const conn = await wsOpen(ctx.gateway.url, { init: { authorization: auth.authorization, [`__proto__`]: { admin: true } }, headers: auth });
    const op = async (label: string, id: string, payload: Record<string, unknown> | string, x: Parameters<typeof judgeWsOperation>[3]) => {
      judgeWsOperation(ctx.t, label, await wsOperation(conn, id, payload, 15_000), x);
    };
    await op('10k-deep selection', 'deep', { query: deepSelection() }, { refused: true });
    await op('1,000 aliases', 'aliases', { query: aliases(1_000) }, { refused: true });
    await op('messages is a number', 'types', { query: STREAM, variables: { input: { messages: 5 } } }, { refused: true });
    await op('syntax error', 'syntax', { query: 'subscription {' }, { refused: true });
    const raw = (variables: string) => `{"query":${JSON.stringify(STREAM)},"variables":${variables}}`;
    await op('lone surrogates in variables', 'surrogate', raw(`{"input":{"messages":[{"role":"USER","content":"${LONE_SURROGATE_ESCAPED}"}]}}`), { stream: true });
    await op('__proto__ in variables', 'proto', raw(`{${protoKey},"input":{"messages":[{"role":"USER","content":"x",${ctorKey}}],${protoKey}}}`), { stream: true });
    await op('constructor.prototype in variables', 'ctor', raw(`{${ctorKey},"input":{"messages":[{"role":"USER","content":"x"}],"metadata":{${protoKey}}}}`), { stream: true });
    await op('10k-deep variables', 'deepvars', raw(`{"input":{"messages":[{"role":"USER","content":"x"}],"metadata":${deepObject()}}}`), { refused: true });
    await op('10k-deep variable list', 'deeplist', raw(`{"input":{"messages":${deepArray()}}}`), { refused: true });
    await op('content 1 KiB under the frame limit', 'huge', { query: STREAM, variables: input('a'.repeat(BODY_LIMIT - 2048)) }, { stream: true });
    // 1,000 operations on one socket, 100 of them completion streams.
    const n = ctx.short ? 300 : 1_000;
    await pool(Array.from({ length: n }, (_, i) => i), 100, async (i) => {
      if (ctx.signal.aborted) return;
      const stream = i % 10 === 0;
      await op(`operation ${i} of ${n} on one socket`, `many-${i}`, stream ? { query: STREAM, variables: input(`stream ${i}`) } : { query: '{ __typename }' }, { stream });
    });
    conn.close();
    await conn.closed;
  },
};
