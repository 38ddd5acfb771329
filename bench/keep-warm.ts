/**
 * With `--warm`, preloaded into the bare proxy and the gateway: from each request a process receives (or
 * upstream request it makes) until 100 ms after the last one, it keeps its event loop turning (a
 * setImmediate loop) instead of sleeping in epoll between events. A diagnostic, not a setting: it separates
 * what a request's own code costs from what running it on a core that went idle costs. On a virtual machine
 * an idle vCPU's physical core serves other work meanwhile, and the next request finds the caches
 * emptied of its code and data; the more code and data a request touches, the more that costs it. Only the
 * process under test gets traffic in a phase, so only it turns; the others sleep as usual.
 *
 * Plain JavaScript in a data: URL, like bench/stage-timer.ts, so a gateway run from dist/ loads no TypeScript.
 */
const KEEP_WARM = `
import dc from 'node:diagnostics_channel';
const IDLE_MS = 100;
let last = 0;
let turning = false;
const turn = () => {
  if (performance.now() - last > IDLE_MS) {
    turning = false;
    return;
  }
  setImmediate(turn);
};
const seen = () => {
  last = performance.now();
  if (!turning) {
    turning = true;
    setImmediate(turn);
  }
};
dc.subscribe('http.server.request.start', seen);
dc.subscribe('undici:request:create', seen);
`;

/** The `--import` argument that preloads it. */
export const keepWarmImport = `data:text/javascript,${encodeURIComponent(KEEP_WARM)}`;
