/**
 * The floor: the least a Node reverse proxy can do. A node:http server that forwards each request's bytes to
 * one upstream over an undici keep-alive Pool and streams the response bytes back — no parsing, no routing,
 * no logic. Whatever the gateway adds on top of this is the gateway's own cost.
 *
 *   node bench/bare-proxy.ts --upstream http://127.0.0.1:PORT [--port 0] [--connections 1100]
 *
 * Prints `{"port":N}` on stdout when ready.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { serveOnLoopback } from './lib/loopback-server.ts';
import { proxyUpstream } from './lib/proxy-upstream.ts';

const { port, pool } = proxyUpstream();

// Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's, not the message's; undici refuses some of them.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'expect']);

function forwardable(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined && !HOP.has(k)) out[k] = v;
  }
  return out;
}

function forward(req: IncomingMessage, res: ServerResponse): void {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool
    .stream(
      {
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as 'GET',
        headers: forwardable(req.headers),
        body: hasBody ? req : null,
      },
      ({ statusCode, headers }) => {
        const out: OutgoingHttpHeaders = {};
        for (const k in headers) if (!HOP.has(k)) out[k] = headers[k];
        res.writeHead(statusCode, out);
        res.flushHeaders();
        return res;
      },
    )
    .catch((err: Error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: err.message } }));
      else res.destroy();
    });
}

serveOnLoopback(port, forward, () => pool.destroy());
