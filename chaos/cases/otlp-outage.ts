/**
 * The OTLP collector dies under load: a loopback HTTP server stands in for the collector at
 * OTEL_EXPORTER_OTLP_ENDPOINT and takes the gateway's span exports; mid-load it is closed (connections
 * refused), then replaced by a black hole (connections accepted, never answered). Requests must keep being
 * answered, none held up by the exporter; no crash; and SIGTERM while the collector is a black hole must
 * still stop the gateway (exit 0) within its grace period.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { auth, chatBody } from '../lib/gateway.ts';
import { send, within } from '../lib/http.ts';
import { fixedRate, percentile } from '../lib/load.ts';
import { judgeGraphQL, judgeRest } from '../lib/shapes.ts';
import { route, simProvider } from '../lib/config.ts';
import type { CaseContext, ChaosCase } from '../lib/suite.ts';
import { ADMIN_KEY } from '../lib/gateway.ts';

const GRACE_MS = 3_000;
/** A request the exporter held up would take seconds (its timeouts are 10 s); a served one takes milliseconds. */
const SLOW_MS = 2_000;

interface Collector {
  port: number;
  exports: number;
  close(): Promise<void>;
}

async function listen(server: Server | TcpServer, port: number): Promise<number> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  return (server.address() as { port: number }).port;
}

/** Accepts OTLP/HTTP exports (any path) and answers 200. */
async function liveCollector(): Promise<Collector> {
  const sockets = new Set<Socket>();
  const c = { port: 0, exports: 0, close: async () => undefined };
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      c.exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  c.port = await listen(server, 0);
  c.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return c;
}

/** Accepts connections on `port` and never answers. */
async function blackHole(port: number): Promise<Collector> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
  });
  await listen(server, port);
  return {
    port,
    exports: 0,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export function otlpOutage(): ChaosCase {
  let hole: Collector | undefined;
  return {
    name: 'otlp-outage',
    group: 'telemetry faults',
    summary: 'the OTLP collector closed, then a black hole, under load: no crash, no held-up request, SIGTERM still exits 0 within the grace period',
    ownGateway: true,
    budgetMs: (short) => (short ? 45_000 : 90_000),
    async run(ctx: CaseContext) {
      const collector = await liveCollector();
      ctx.onCleanup(() => collector.close());
      const config = {
        server: { host: '127.0.0.1', port: 0, shutdownGraceMs: GRACE_MS },
        providers: [simProvider(ctx.fx, 'sim')],
        routes: [route('default', 'sim')],
        keys: [{ key: ADMIN_KEY, name: 'chaos-admin', scope: 'admin' }],
      };
      const g = await ctx.dedicated('otlp', config, {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_SERVICE_NAME: 'switchboard-chaos',
      });
      const headers = { ...auth, 'content-type': 'application/json' };
      const phases: Record<string, number[]> = {};
      let current = 'collector up';
      const fire = async (i: number) => {
        const label = current;
        const list = (phases[label] ??= []);
        if (i % 5 === 4) {
          const r = await send(g.url, { path: '/graphql', headers, body: JSON.stringify({ query: '{ routes { name } }' }), timeoutMs: 15_000 });
          judgeGraphQL(ctx.t, `GraphQL (${label})`, r);
          list.push(r.ms);
          if (r.ms > SLOW_MS) ctx.t.fail('other', `GraphQL (${label})`, `took ${Math.round(r.ms)} ms`);
          return;
        }
        const r = await send(g.url, { path: '/v1/chat/completions', headers, body: chatBody(`traced ${i}`, i % 5 === 3 ? { stream: true } : {}), timeoutMs: 15_000 });
        judgeRest(ctx.t, `REST (${label})`, r);
        list.push(r.ms);
        if (r.status !== 200) ctx.t.fail('other', `REST (${label})`, `answered ${r.status || r.error}`);
        else if (r.ms > SLOW_MS) ctx.t.fail('other', `REST (${label})`, `took ${Math.round(r.ms)} ms (held up by the exporter?)`);
      };
      const rps = 40;
      const ms = (short: number, full: number) => (ctx.short ? short : full);
      const load = (d: number) => fixedRate({ rps, durationMs: d, maxInFlight: 64, signal: ctx.signal, fire });
      const r1 = await load(ms(2_000, 5_000));
      await new Promise((r) => setTimeout(r, 500));
      const received = collector.exports;
      if (received === 0) ctx.t.fail('other', 'collector', 'received no export while up: tracing was not on, the case tests nothing');
      current = 'collector closed';
      const during = load(ms(3_000, 10_000));
      await new Promise((r) => setTimeout(r, 300));
      await collector.close();
      const r2 = await during;
      current = 'collector a black hole';
      hole = await blackHole(collector.port);
      ctx.onCleanup(() => hole?.close());
      const r3 = await load(ms(2_000, 8_000));
      const skipped = r1.skipped + r2.skipped + r3.skipped;
      if (skipped > 0) ctx.t.fail('other', 'load', `${skipped} requests could not start: 64 were still open (requests held up)`);
      ctx.t.note(
        `collector took ${received} exports while up; latency p50/p99 ms: ${Object.entries(phases)
          .map(([k, v]) => `${k} ${percentile(v, 50).toFixed(0)}/${percentile(v, 99).toFixed(0)} (${v.length})`)
          .join(', ')}`,
      );
    },
    /** SIGTERM with the collector a black hole: exit 0 within the grace period (plus a second for the process to go). */
    async finale(ctx: CaseContext) {
      const g = ctx.gateway;
      const t0 = performance.now();
      g.child.proc.kill('SIGTERM');
      const code = await within(g.child.exited, GRACE_MS + 12_000);
      const tookMs = performance.now() - t0;
      ctx.t.saw(`exit-${String(code)}`);
      ctx.t.note(`SIGTERM with a black-hole collector: exit ${String(code)} after ${Math.round(tookMs)} ms (grace ${GRACE_MS} ms)`);
      if (code === 'timeout') ctx.t.fail('other', 'shutdown', `still running ${GRACE_MS + 12_000} ms after SIGTERM`);
      else if (code !== 0) ctx.t.fail('crash', 'shutdown', `exit code ${String(code)}`);
      if (tookMs > GRACE_MS + 1_000) ctx.t.fail('other', 'shutdown', `took ${Math.round(tookMs)} ms, over the grace period of ${GRACE_MS} ms`);
    },
  };
}
