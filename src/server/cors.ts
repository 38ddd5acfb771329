import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/index.ts';
import { isAllowedOrigin } from './origin-policy.ts';

/** What a preflighted request may use: the API's methods and the request headers its clients send. */
const ALLOW_METHODS = 'GET, POST, OPTIONS';
const ALLOW_HEADERS = [
  'authorization',
  'content-type',
  'x-request-id',
  'x-switchboard-cache',
  'idempotency-key',
  'anthropic-version',
  'x-api-key',
  // Apollo's CSRF prevention lets a GET (or a simple-content-type POST) through with this header.
  'apollo-require-preflight',
  'traceparent',
  'tracestate',
].join(', ');

/**
 * The response headers a page may read. Without this list a browser hides everything but the safelisted
 * few (content-type and the like), so a client could not read its request id, cost or rate limits.
 * Named one by one: `*` is not honoured for credentialed requests, and no wildcard is ever sent.
 */
const EXPOSE_HEADERS = [
  'x-request-id',
  'request-id',
  'x-trace-id',
  'x-switchboard-route',
  'x-switchboard-route-version',
  'x-switchboard-provider',
  'x-switchboard-model',
  'x-switchboard-attempts',
  'x-switchboard-attempt-log',
  'x-switchboard-cost-usd',
  'x-switchboard-cache',
  'x-switchboard-idempotent-replay',
  'x-switchboard-dropped-params',
  ...['limit', 'remaining', 'reset'].flatMap((what) => ['requests', 'tokens'].map((unit) => `x-ratelimit-${what}-${unit}`)),
  'retry-after',
].join(', ');

export interface Cors {
  /**
   * For a request to /graphql or /v1/* carrying Origin: an allowed origin gets the CORS headers set on `res`
   * (every response then carries them, errors included) and its preflight is answered 204; a preflight from
   * any other origin is answered 403 with no CORS headers. True when the request was answered here.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/** An Origin exactly as browsers serialize it (what is echoed back must be that, byte for byte). */
function isSerializedOrigin(origin: string): boolean {
  try {
    return new URL(origin).origin === origin;
  } catch {
    return false;
  }
}

/** Whether CORS applies to this path: the APIs, not health, metrics or anything served beside them. */
export function isCorsPath(path: string): boolean {
  return path === '/graphql' || path.startsWith('/v1/');
}

/**
 * CORS for the HTTP APIs, from server.cors. Which origins are allowed is decided by the same rule as
 * WebSocket upgrades (origin-policy.ts): the gateway's own origin and the exact origins listed in
 * server.cors.origins. Nothing is listed by default, so no other site's page can read an answer.
 * A refused origin gets no CORS header at all (its page sees a network error), never a wildcard.
 */
export function createCors(config: Config['server']['cors']): Cors {
  const allowed = new Set(config.origins);
  const maxAge = String(config.maxAgeSeconds);

  return {
    handle(req, res) {
      const origin = req.headers.origin;
      if (origin === undefined) return false;
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      if (!isSerializedOrigin(origin) || !isAllowedOrigin(origin, req.headers.host, allowed)) {
        if (!preflight) return false;
        const body = 'CORS preflight refused: this Origin is not allowed (add it to server.cors.origins)\n';
        res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
        return true;
      }
      res.setHeader('access-control-allow-origin', origin);
      // An answer cached for one origin must not be served to another (appended: other Vary values stay).
      res.appendHeader('vary', 'Origin');
      if (config.credentials) res.setHeader('access-control-allow-credentials', 'true');
      if (!preflight) {
        res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
        return false;
      }
      res.writeHead(204, {
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-allow-headers': ALLOW_HEADERS,
        'access-control-max-age': maxAge,
      });
      res.end();
      return true;
    },
  };
}
