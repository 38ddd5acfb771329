/**
 * A bare graphql-transport-ws client on `ws`, so a case can send what a well-behaved client library never
 * would (garbage frames, messages out of order, a reader that stops) and see exactly how the socket ends.
 */
import WebSocket from 'ws';
import { graphqlErrorsProblem } from './shapes.ts';
import type { Tally } from './tally.ts';

export type WsMessage = { type?: string; id?: string; payload?: unknown };

export interface WsConn {
  ws: WebSocket;
  messages: WsMessage[];
  /** Resolves with the close code and reason when the socket closes (1006: no close frame). */
  closed: Promise<{ code: number; reason: string }>;
  send(data: unknown): void;
  /** Resolves with the first message matching, or undefined after `ms` or when the socket closes. */
  next(match: (m: WsMessage) => boolean, ms: number): Promise<WsMessage | undefined>;
  close(): void;
}

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/graphql`;
}

export async function wsOpen(httpUrl: string, opts: { init?: Record<string, unknown> | false; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<WsConn> {
  const ws = new WebSocket(wsUrl(httpUrl), 'graphql-transport-ws', { headers: opts.headers ?? {}, maxPayload: 256 * 1024 * 1024 });
  const messages: WsMessage[] = [];
  const waiters = new Set<() => void>();
  let closedState: { code: number; reason: string } | undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      closedState = { code, reason: reason.toString() };
      for (const w of waiters) w();
      resolve(closedState);
    });
  });
  ws.on('error', () => undefined);
  ws.on('message', (data, isBinary) => {
    let m: WsMessage;
    try {
      m = JSON.parse(isBinary ? '' : data.toString()) as WsMessage;
    } catch {
      m = { type: '<not json>' };
    }
    messages.push(m);
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('ws open timed out')), opts.timeoutMs ?? 5_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  const conn: WsConn = {
    ws,
    messages,
    closed,
    send(data) {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data));
    },
    next(match, ms) {
      let seen = 0;
      return new Promise((resolve) => {
        const check = () => {
          for (; seen < messages.length; seen++) {
            if (match(messages[seen]!)) return done(messages[seen]);
          }
          if (closedState) done(undefined);
        };
        const timer = setTimeout(() => done(undefined), ms);
        const done = (m: WsMessage | undefined) => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        waiters.add(check);
        check();
      });
    },
    close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
    },
  };
  if (opts.init !== false) {
    conn.send({ type: 'connection_init', payload: opts.init ?? {} });
    const ack = await conn.next((m) => m.type === 'connection_ack', opts.timeoutMs ?? 5_000);
    if (!ack) throw new Error(`no connection_ack (${JSON.stringify(closedState ?? {})})`);
  }
  return conn;
}

export interface WsOperation {
  /** The payloads of `next` messages. */
  nexts: unknown[];
  /** How the operation ended. */
  end: 'complete' | 'error' | 'closed' | 'timeout';
  errorPayload?: unknown;
  close?: { code: number; reason: string };
}

/** Subscribes and waits for the operation's end (complete, error, the socket closing, or the timeout). */
export async function wsOperation(conn: WsConn, id: string, payload: Record<string, unknown> | string, timeoutMs: number): Promise<WsOperation> {
  const start = conn.messages.length;
  // A payload given as JSON text is sent as it is (a 10k-deep one would overflow JSON.stringify here).
  conn.send(typeof payload === 'string' ? `{"type":"subscribe","id":${JSON.stringify(id)},"payload":${payload}}` : { type: 'subscribe', id, payload });
  const end = await conn.next((m) => m.id === id && (m.type === 'complete' || m.type === 'error'), timeoutMs);
  const mine = conn.messages.slice(start).filter((m) => m.id === id);
  const nexts = mine.filter((m) => m.type === 'next').map((m) => m.payload);
  if (end?.type === 'complete') return { nexts, end: 'complete' };
  if (end?.type === 'error') return { nexts, end: 'error', errorPayload: end.payload };
  const closed = conn.ws.readyState === WebSocket.CLOSED || conn.ws.readyState === WebSocket.CLOSING;
  if (closed) return { nexts, end: 'closed', close: await conn.closed };
  return { nexts, end: 'timeout' };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The terminal completionStream event of an operation's `next` payloads, if any. */
export function terminalEvent(nexts: unknown[]): Record<string, unknown> | undefined {
  for (const p of nexts.toReversed()) {
    const ev = isObj(p) && isObj(p.data) ? p.data.completionStream : undefined;
    if (isObj(ev) && (ev.__typename === 'CompletionDoneEvent' || ev.__typename === 'CompletionErrorEvent')) return ev;
  }
  return undefined;
}

/**
 * Judges one operation: `error` payloads and `errors` in `next` payloads must be shaped; a completionStream
 * must end with its done or error event; an operation cut by a socket closed without a close code, or left
 * hanging, is a failure. `refused: true` expects a refusal (an error message or a 44xx close).
 */
export function judgeWsOperation(t: Tally, label: string, op: WsOperation, x: { stream?: boolean; refused?: boolean; brokenUpstream?: boolean } = {}): void {
  t.saw(op.end === 'closed' ? `ws-close-${op.close?.code}` : `ws-${op.end}`);
  if (op.end === 'timeout') {
    t.fail('other', label, 'operation neither completed nor failed (hang)');
    return;
  }
  for (const p of op.nexts) {
    if (isObj(p) && 'errors' in p) {
      const problem = graphqlErrorsProblem(p.errors);
      if (problem) t.fail('wrongShape', label, `next payload: ${problem}`);
      if (Array.isArray(p.errors) && p.errors.some((e) => isObj(e) && isObj(e.extensions) && e.extensions.code === 'INTERNAL_SERVER_ERROR')) {
        t.fail('unexpected5xx', label, 'INTERNAL_SERVER_ERROR in a next payload');
      }
    }
  }
  if (op.end === 'error') {
    const problem = graphqlErrorsProblem(op.errorPayload);
    if (problem) t.fail('wrongShape', label, `error message: ${problem}`);
    if (Array.isArray(op.errorPayload) && op.errorPayload.some((e) => isObj(e) && isObj(e.extensions) && e.extensions.code === 'INTERNAL_SERVER_ERROR')) {
      t.fail('unexpected5xx', label, 'INTERNAL_SERVER_ERROR in an error message');
    }
    return;
  }
  if (op.end === 'closed') {
    const code = op.close?.code ?? 0;
    // The stream's terminal event arrived; only the protocol's `complete` did not (the socket closed first).
    if (x.stream && terminalEvent(op.nexts) && code !== 1006) {
      t.fail('wrongShape', label, `terminal event delivered, then the socket closed (${code}) before the operation's complete message`);
      return;
    }
    if (code === 1006) t.fail('wrongShape', label, 'socket dropped without a close frame');
    else if (!x.refused) t.fail('silentTruncation', label, `socket closed (${code} ${op.close?.reason ?? ''}) before the operation ended`);
    else if (code === 1011) t.fail('unexpected5xx', label, `closed with 1011 (internal error): ${op.close?.reason ?? ''}`);
    return;
  }
  // A request graphql-js refused before executing (bad variables) comes as one `next` with errors and no data.
  const refused = op.nexts.some((p) => isObj(p) && 'errors' in p && !('data' in p && p.data !== null));
  if (x.refused && !refused) t.fail('other', label, 'operation succeeded where a refusal was expected');
  if (x.stream && !refused) {
    const ev = terminalEvent(op.nexts);
    if (!ev) t.fail('silentTruncation', label, `completionStream completed without a done or error event (${op.nexts.length} events)`);
    else if (x.brokenUpstream && ev.__typename === 'CompletionDoneEvent') t.fail('silentTruncation', label, 'the upstream broke but the stream ended with CompletionDoneEvent');
  }
}
