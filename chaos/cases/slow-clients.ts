/**
 * Slow clients. Slowloris: connections that trickle their headers (and some that send nothing) must be cut
 * by the headers timeout while normal requests keep being answered. Readers that stop: a REST, a Messages
 * and a graphql-ws stream of a ~350 MB reply whose client stops reading must stop the gateway reading from
 * the provider (the simulator's streamed bytes stop growing) instead of buffering the reply, and the
 * upstream call must end once the client is gone.
 */
import type { Socket } from 'node:net';
import { ADMIN_KEY, auth, chatBody, rssMiB } from '../lib/gateway.ts';
import { closedWithin, rawConnect, send, sleep } from '../lib/http.ts';
import type { CaseContext, ChaosCase } from '../lib/suite.ts';
import { wsOpen, type WsConn } from '../lib/ws.ts';

const HEADERS_TIMEOUT_MS = 2_000; // mainConfig's server.headersTimeoutMs

async function slowloris(ctx: CaseContext): Promise<void> {
  const n = ctx.short ? 50 : 200;
  const idle = ctx.short ? 10 : 50;
  const sockets: Array<{ s: Socket; at: number; answer: string; slow: boolean }> = [];
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < n + idle; i++) {
    const s = await rawConnect(ctx.gateway.url);
    const entry = { s, at: performance.now(), answer: '', slow: i < n };
    s.setEncoding('latin1');
    s.on('data', (d: string) => (entry.answer += d));
    s.on('error', () => undefined);
    sockets.push(entry);
    if (!entry.slow) continue;
    s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let k = 0;
    const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write(`X-Slow-${k++}: ${'y'.repeat(8)}\r\n`)), 200);
    timers.push(timer);
  }
  // Normal traffic meanwhile: each request must be answered, and promptly.
  const until = performance.now() + HEADERS_TIMEOUT_MS + 2_500;
  const normal: Promise<void>[] = [];
  while (performance.now() < until && !ctx.signal.aborted) {
    normal.push(
      send(ctx.gateway.url, { path: '/v1/chat/completions', headers: { ...auth, 'content-type': 'application/json' }, body: chatBody('during slowloris'), timeoutMs: 5_000 }).then((r) => {
        ctx.t.saw(`normal-${r.status || r.error}`);
        if (r.status !== 200) ctx.t.fail('other', 'normal request during slowloris', `answered ${r.status || r.error}`);
        else if (r.ms > 2_000) ctx.t.fail('other', 'normal request during slowloris', `took ${Math.round(r.ms)} ms`);
      }),
    );
    await sleep(100);
  }
  await Promise.all(normal);
  const bound = HEADERS_TIMEOUT_MS + 3_000;
  await Promise.all(
    sockets.map(async (e) => {
      const left = Math.max(0, bound - (performance.now() - e.at));
      const closed = await closedWithin(e.s, left);
      ctx.t.saw(closed ? (e.answer.startsWith('HTTP/1.1 408') ? 'slow-408' : 'slow-closed') : 'slow-open');
      if (!closed) ctx.t.fail('other', e.slow ? 'slowloris connection' : 'idle connection', `still open ${bound} ms after connecting (headers timeout ${HEADERS_TIMEOUT_MS} ms)`);
    }),
  );
  for (const t of timers) clearInterval(t);
  for (const e of sockets) e.s.destroy();
}

/**
 * Waits until the simulator's streamed bytes stop growing (under 256 KiB in 1 s): the buffers between it
 * and the stopped reader are full. Kernel socket buffers on loopback autotune to tens of MB (tcp_rmem max
 * 32 MB here), so this takes a while; a gateway that buffers in memory never stops (or finishes the reply).
 * The window is a full second because a busy 2-core runner can hold the writer back for half of one while
 * the buffers still have room (seen once: a graphql-ws stream "stopped" at 4 MiB, then went on).
 */
async function flowStopped(ctx: CaseContext, maxMs: number): Promise<boolean> {
  const until = performance.now() + maxMs;
  const samples = [ctx.fx.sim.stats.streamedBytes];
  while (performance.now() < until) {
    await sleep(250);
    samples.push(ctx.fx.sim.stats.streamedBytes);
    if (samples.length >= 5 && samples.at(-1)! - samples.at(-5)! < 256 * 1024) return true;
  }
  return false;
}

interface Stalled {
  api: string;
  close(): void;
}

/** A raw HTTP request whose response we read until its first body bytes, then stop reading. */
async function stalledHttp(ctx: CaseContext, path: string, body: string): Promise<Stalled> {
  const s = await rawConnect(ctx.gateway.url);
  s.on('error', () => undefined);
  s.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  await new Promise<void>((resolve) => {
    let seen = 0;
    const onData = (d: Buffer) => {
      seen += d.length;
      if (seen > 4_096) {
        s.off('data', onData);
        s.pause();
        resolve();
      }
    };
    s.on('data', onData);
    setTimeout(resolve, 5_000).unref();
  });
  return { api: path, close: () => s.destroy() };
}

async function stalledWs(ctx: CaseContext): Promise<Stalled> {
  const conn: WsConn = await wsOpen(ctx.gateway.url, { headers: auth });
  conn.send({ type: 'subscribe', id: 'big', payload: { query: 'subscription($input: CompletionInput!) { completionStream(input: $input) { __typename ... on TextDeltaEvent { text } } }', variables: { input: { route: 'big', messages: [{ role: 'USER', content: 'a very long answer' }] } } } });
  await conn.next((m) => m.type === 'next', 5_000);
  conn.ws.pause();
  return { api: 'graphql-ws', close: () => conn.ws.terminate() };
}

/**
 * Opens `k` streams of one API whose client stops reading, then checks: the upstream flow stops while the
 * upstream calls are still open (the reply was not consumed into memory), RSS stays bounded, and once the
 * clients leave the upstream calls end.
 */
async function stalledReaders(ctx: CaseContext, label: string, open: () => Promise<Stalled>): Promise<void> {
  const k = ctx.short ? 1 : 3;
  const rss0 = rssMiB(ctx.gateway);
  const b0 = ctx.fx.sim.stats.streamedBytes;
  const t0 = performance.now();
  const streams = await Promise.all(Array.from({ length: k }, open));
  const stopped = await flowStopped(ctx, ctx.short ? 12_000 : 25_000);
  const flowed = ctx.fx.sim.stats.streamedBytes - b0;
  const open_ = ctx.fx.sim.stats.inFlight;
  let peak = rssMiB(ctx.gateway);
  // Held a little longer: a gateway that buffers shows it in RSS.
  for (let waited = 0; waited < (ctx.short ? 1_000 : 4_000); waited += 250) {
    await sleep(250);
    peak = Math.max(peak, rssMiB(ctx.gateway));
  }
  const more = ctx.fx.sim.stats.streamedBytes - b0 - flowed;
  ctx.t.saw(`stalled-${label}`);
  ctx.t.note(
    `${label}: ${k} stalled stream(s); the upstream ${stopped ? 'stopped' : 'did NOT stop'} after ${(flowed / 1048576).toFixed(1)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
      `(socket buffers), ${(more / 1024).toFixed(0)} KiB after that; gateway RSS ${rss0.toFixed(0)} → peak ${peak.toFixed(0)} MiB`,
  );
  if (!stopped || more > 1024 * 1024) ctx.t.fail('other', label, `the upstream kept streaming (${(flowed / 1048576).toFixed(0)} MiB) while the client read nothing`);
  else if (open_ < k) ctx.t.fail('other', label, `the reply was consumed whole (${k - open_} upstream calls finished) while the client read nothing`);
  if (peak - rss0 > 96) ctx.t.fail('other', label, `RSS grew ${(peak - rss0).toFixed(0)} MiB while ${k} client(s) read nothing`);
  for (const s of streams) s.close();
  const until = performance.now() + 3_000;
  while (ctx.fx.sim.stats.inFlight > 0 && performance.now() < until) await sleep(50);
  if (ctx.fx.sim.stats.inFlight > 0) ctx.t.fail('other', label, `${ctx.fx.sim.stats.inFlight} upstream calls still open 3 s after the clients left`);
}

export const slowClients: ChaosCase = {
  name: 'slow-clients',
  group: 'slow clients',
  summary: 'slowloris (trickled headers, silent connections) beside normal traffic; REST, Messages and graphql-ws readers that stop reading a ~350 MB stream',
  budgetMs: (short) => (short ? 60_000 : 150_000),
  async run(ctx) {
    await slowloris(ctx);
    const big = (stream: boolean) => chatBody('a very long answer', { model: 'big', stream });
    await stalledReaders(ctx, 'REST stream', () => stalledHttp(ctx, '/v1/chat/completions', big(true)));
    await stalledReaders(ctx, 'Messages stream', () =>
      stalledHttp(ctx, '/v1/messages', JSON.stringify({ model: 'big', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'a very long answer' }] })),
    );
    await stalledReaders(ctx, 'graphql-ws stream', () => stalledWs(ctx));
  },
};
