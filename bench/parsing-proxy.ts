/**
 * The parsing floor: the least a Node proxy that reads what it forwards can do. Where the bare proxy
 * (bare-proxy.ts) copies bytes, this one does what any gateway that normalizes requests and answers must:
 * it parses the request's JSON and serializes it again for the upstream, parses the answer's JSON and
 * serializes a new one; a stream (`"stream": true`) is decoded from SSE (eventsource-parser, as the gateway
 * does), each chunk parsed and serialized again, and written as its own SSE event. No validation, routing,
 * usage, metrics or logs: what the gateway adds on top of this floor is what those features cost.
 *
 *   node bench/parsing-proxy.ts --upstream http://127.0.0.1:PORT [--port 0] [--connections 1100]
 *
 * `npm run bench -- --floor parse` runs it in the bare proxy's place. Prints `{"port":N}` on stdout when ready.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createParser } from 'eventsource-parser';
import type { Dispatcher } from 'undici';
import { serveOnLoopback } from './lib/loopback-server.ts';
import { proxyUpstream } from './lib/proxy-upstream.ts';

const { port, pool } = proxyUpstream();

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const json = JSON.stringify({ error: { message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
}

/**
 * One upstream request as a raw undici dispatch handler (as the gateway's own http-call.ts): no promise or
 * stream per response, so what this floor costs is the parsing, not an async iterator per body.
 */
function forward(req: IncomingMessage, res: ServerResponse): void {
  readBody(req)
    .then((text) => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        fail(res, 400, 'body is not JSON');
        return;
      }
      const stream = body.stream === true;
      let status = 0;
      const parts: Buffer[] = [];
      const decoder = new TextDecoder();
      const parser = createParser({
        onEvent: (e) => {
          res.write(e.data === '[DONE]' ? 'data: [DONE]\n\n' : `data: ${JSON.stringify(JSON.parse(e.data))}\n\n`);
        },
      });
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => undefined,
        onResponseStart: (_c, statusCode) => {
          status = statusCode;
          if (stream && status === 200) res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
        },
        onResponseData: (_c, chunk) => {
          if (stream && status === 200) parser.feed(decoder.decode(chunk, { stream: true }));
          else parts.push(chunk);
        },
        onResponseEnd: () => {
          if (stream && status === 200) {
            res.end();
            return;
          }
          const json = JSON.stringify(JSON.parse(Buffer.concat(parts).toString('utf8')));
          res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
        },
        onResponseError: (_c, err) => fail(res, 502, err.message),
      };
      pool.dispatch({ path: req.url ?? '/', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, handler);
    })
    .catch((err: Error) => fail(res, 502, err.message));
}

serveOnLoopback(port, forward, () => pool.destroy());
