/**
 * With `--stages`, preloaded into the bare proxy and the gateway: timestamps each HTTP request at the points any
 * Node proxy passes, from diagnostics channels only (no hook in the gateway's code), and writes them on exit to
 * the file named by STAGE_TIMES_OUT (one file per process start). One record per request, times in ms from performance.now():
 *
 *   [t0 request received, created the upstream request, wrote it upstream, upstream's response headers,
 *    first byte written to the client, response finished, 1 if an event stream, the path]
 *
 * -1 where a point was not reached (no upstream call: a cache hit, /healthz). The upstream request is tied to the
 * incoming one through AsyncLocalStorage, entered when the request starts. bench/lib/stage-report.ts reads them.
 *
 * Plain JavaScript in a data: URL, like bench/child-guard.ts, so a gateway run from dist/ loads no TypeScript.
 */
const TIMER = `
import dc from 'node:diagnostics_channel';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { AsyncLocalStorage } from 'node:async_hooks';
const out = process.env.STAGE_TIMES_OUT;
const als = new AsyncLocalStorage();
const recs = [];
const byRes = new WeakMap();
const byUp = new WeakMap();
dc.subscribe('http.server.request.start', ({ request, response }) => {
  const url = request.url ?? '';
  const q = url.indexOf('?');
  const r = [performance.now(), -1, -1, -1, -1, -1, 0, q === -1 ? url : url.slice(0, q)];
  recs.push(r);
  byRes.set(response, r);
  // The request handler runs next, in this synchronous stretch: its async work inherits the store.
  als.enterWith(r);
});
dc.subscribe('undici:request:create', ({ request }) => {
  const r = als.getStore();
  if (r && r[1] < 0) {
    r[1] = performance.now();
    byUp.set(request, r);
  }
});
dc.subscribe('undici:client:sendHeaders', ({ request }) => {
  const r = byUp.get(request);
  if (r && r[2] < 0) r[2] = performance.now();
});
dc.subscribe('undici:request:headers', ({ request }) => {
  const r = byUp.get(request);
  if (r && r[3] < 0) r[3] = performance.now();
});
dc.subscribe('http.server.response.finish', ({ response }) => {
  const r = byRes.get(response);
  if (r) r[5] = performance.now();
});
const first = (res) => {
  const r = byRes.get(res);
  if (r && r[4] < 0) {
    r[4] = performance.now();
    r[6] = String(res._header ?? '').includes('text/event-stream') ? 1 : 0;
  }
};
const { write, end } = http.ServerResponse.prototype;
http.ServerResponse.prototype.write = function (...args) {
  first(this);
  return write.apply(this, args);
};
http.ServerResponse.prototype.end = function (...args) {
  first(this);
  return end.apply(this, args);
};
process.on('exit', () => {
  if (out) writeFileSync(out, JSON.stringify(recs.map((r) => r.map((v) => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v)))));
});
// A process with no SIGTERM handler of its own (the bare proxy) would die without 'exit': exit cleanly instead.
process.once('SIGTERM', () => {
  setImmediate(() => {
    if (process.listenerCount('SIGTERM') === 0) process.exit(0);
  });
});
`;

/** The `--import` argument that preloads the timer. */
export const stageTimerImport = `data:text/javascript,${encodeURIComponent(TIMER)}`;
