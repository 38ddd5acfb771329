import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerConfigSchema } from '../../src/config/index.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const APP = 'http://app.example';
const EVIL = 'http://evil.example';
const ADMIN_KEY = 'sk-cors-admin-0123456789';
const QUERY = JSON.stringify({ query: '{ viewer { name } }' });
const CHAT = JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'hi' }] });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (fetch would not send Origin or preflight headers the way a browser does). */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const corsHeaders = (a: Answer) => Object.keys(a.headers).filter((h) => h.startsWith('access-control-'));
const list = (value: string | string[] | undefined) => String(value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

const json = (origin?: string) => ({
  'content-type': 'application/json',
  authorization: `Bearer ${ADMIN_KEY}`,
  ...(origin ? { origin } : {}),
});

const preflight = (origin: string, requestHeaders = 'authorization, content-type') => ({
  origin,
  'access-control-request-method': 'POST',
  'access-control-request-headers': requestHeaders,
});

function startWith(cors: Record<string, unknown>): Promise<Stack> {
  return startStack((c) => ({ ...c, keys: [{ key: ADMIN_KEY, name: 'ops', scope: 'admin' }], server: { ...c.server, cors } }));
}

describe('CORS with server.cors.origins: [http://app.example]', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startWith({ origins: [APP] });
  });
  afterAll(() => stack.close());

  it('echoes an allowed origin with Vary: Origin and the exposed headers on /graphql', async () => {
    const r = await send(stack.url, 'POST', '/graphql', json(APP), QUERY);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ data: { viewer: { name: 'ops' } } });
    expect(r.headers['access-control-allow-origin']).toBe(APP);
    expect(list(r.headers.vary)).toContain('origin');
    expect(list(r.headers['access-control-expose-headers'])).toContain('x-request-id');
    expect(r.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('echoes an allowed origin on /v1/chat/completions and exposes every x-switchboard-* header it sends', async () => {
    const r = await send(stack.url, 'POST', '/v1/chat/completions', json(APP), CHAT);
    expect(r.status).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBe(APP);
    expect(list(r.headers.vary)).toContain('origin');
    const exposed = list(r.headers['access-control-expose-headers']);
    const sent = Object.keys(r.headers).filter((h) => h.startsWith('x-switchboard-') || h === 'x-request-id');
    expect(sent).toContain('x-switchboard-cost-usd');
    for (const h of sent) expect(exposed).toContain(h);
    for (const h of ['retry-after', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-tokens', 'x-switchboard-cache']) expect(exposed).toContain(h);
    expect(exposed).not.toContain('*');
  });

  it('puts the CORS headers on error answers too (401 without a key, 404)', async () => {
    const unauthorized = await send(stack.url, 'POST', '/v1/chat/completions', { 'content-type': 'application/json', origin: APP }, CHAT);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers['access-control-allow-origin']).toBe(APP);
    const missing = await send(stack.url, 'GET', '/v1/nothing-here', { origin: APP, authorization: `Bearer ${ADMIN_KEY}` });
    expect(missing.status).toBe(404);
    expect(missing.headers['access-control-allow-origin']).toBe(APP);
    const gqlUnauthorized = await send(stack.url, 'POST', '/graphql', { 'content-type': 'application/json', origin: APP }, QUERY);
    expect(gqlUnauthorized.status).toBe(401);
    expect(gqlUnauthorized.headers['access-control-allow-origin']).toBe(APP);
  });

  it('answers a preflight from an allowed origin 204 with methods, headers and max-age', async () => {
    for (const path of ['/graphql', '/v1/chat/completions']) {
      const r = await send(stack.url, 'OPTIONS', path, preflight(APP, 'authorization, content-type, idempotency-key, x-switchboard-cache'));
      expect(r.status, path).toBe(204);
      expect(r.body).toBe('');
      expect(r.headers['access-control-allow-origin']).toBe(APP);
      expect(list(r.headers.vary)).toContain('origin');
      expect(list(r.headers['access-control-allow-methods'])).toEqual(['get', 'post', 'options']);
      const allowed = list(r.headers['access-control-allow-headers']);
      for (const h of ['authorization', 'content-type', 'x-request-id', 'x-switchboard-cache', 'idempotency-key', 'anthropic-version', 'x-api-key', 'apollo-require-preflight', 'traceparent', 'tracestate']) {
        expect(allowed).toContain(h);
      }
      expect(r.headers['access-control-max-age']).toBe('600');
      expect(r.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it('gives a disallowed origin no CORS headers, and its preflight a plain 403 naming the config key', async () => {
    const post = await send(stack.url, 'POST', '/graphql', json(EVIL), QUERY);
    expect(post.status).toBe(200);
    expect(corsHeaders(post)).toEqual([]);
    const chat = await send(stack.url, 'POST', '/v1/chat/completions', json(EVIL), CHAT);
    expect(corsHeaders(chat)).toEqual([]);
    for (const origin of [EVIL, 'null', 'http://app.example:8080', 'https://app.example']) {
      const pre = await send(stack.url, 'OPTIONS', '/graphql', preflight(origin));
      expect(pre.status, origin).toBe(403);
      expect(pre.headers['content-type']).toMatch(/^text\/plain/);
      expect(pre.body).toContain('server.cors.origins');
      expect(corsHeaders(pre)).toEqual([]);
    }
  });

  it("treats the gateway's own origin as allowed, like the WebSocket upgrade check", async () => {
    const pre = await send(stack.url, 'OPTIONS', '/v1/chat/completions', preflight(stack.url));
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(stack.url);
  });

  it('leaves requests without Origin as they were', async () => {
    const post = await send(stack.url, 'POST', '/graphql', json(), QUERY);
    expect(post.status).toBe(200);
    expect(corsHeaders(post)).toEqual([]);
    expect(post.headers.vary).toBeUndefined();
    const chat = await send(stack.url, 'POST', '/v1/chat/completions', json(), CHAT);
    expect(chat.status).toBe(200);
    expect(corsHeaders(chat)).toEqual([]);
    // No Origin: not a preflight, so OPTIONS gets the route's usual answer.
    const options = await send(stack.url, 'OPTIONS', '/v1/chat/completions', { 'access-control-request-method': 'POST', authorization: `Bearer ${ADMIN_KEY}` });
    expect(options.status).toBe(404);
    expect(corsHeaders(options)).toEqual([]);
  });

  it("keeps Apollo's CSRF prevention: a simple cross-origin request is refused, a preflighted one runs", async () => {
    // text/plain needs no preflight, so a browser would send it from any page: Apollo must refuse it.
    const simple = await send(stack.url, 'POST', '/graphql', { ...json(APP), 'content-type': 'text/plain' }, QUERY);
    expect(simple.status).toBe(400);
    expect(simple.body).toContain('Cross-Site Request Forgery');
    const get = await send(stack.url, 'GET', `/graphql?query=${encodeURIComponent('{ viewer { name } }')}`, { origin: APP, authorization: `Bearer ${ADMIN_KEY}` });
    expect(get.status).toBe(400);
    // What a browser sends after a successful preflight: application/json (or apollo-require-preflight on a GET).
    const preflighted = await send(stack.url, 'GET', `/graphql?query=${encodeURIComponent('{ viewer { name } }')}`, {
      origin: APP,
      authorization: `Bearer ${ADMIN_KEY}`,
      'apollo-require-preflight': 'true',
    });
    expect(preflighted.status).toBe(200);
    expect(JSON.parse(preflighted.body)).toEqual({ data: { viewer: { name: 'ops' } } });
    expect(preflighted.headers['access-control-allow-origin']).toBe(APP);
  });
});

describe('CORS with credentials and a custom max-age', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startWith({ origins: [APP], credentials: true, maxAgeSeconds: 60 });
  });
  afterAll(() => stack.close());

  it('sends Access-Control-Allow-Credentials on preflights and answers, and the configured max-age', async () => {
    const pre = await send(stack.url, 'OPTIONS', '/graphql', preflight(APP));
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-credentials']).toBe('true');
    expect(pre.headers['access-control-max-age']).toBe('60');
    const post = await send(stack.url, 'POST', '/v1/chat/completions', json(APP), CHAT);
    expect(post.headers['access-control-allow-origin']).toBe(APP);
    expect(post.headers['access-control-allow-credentials']).toBe('true');
    const evil = await send(stack.url, 'POST', '/graphql', json(EVIL), QUERY);
    expect(corsHeaders(evil)).toEqual([]);
  });
});

describe('server.cors config', () => {
  it('defaults to no listed origins, no credentials and a 600 s max-age', () => {
    expect(ServerConfigSchema.parse({}).cors).toEqual({ origins: [], credentials: false, maxAgeSeconds: 600 });
  });

  it('names the field of a bad value', () => {
    const problem = (cors: unknown) => ServerConfigSchema.safeParse({ cors }).error?.issues.map((i) => i.path.join('.'));
    expect(problem({ origins: ['*'] })).toEqual(['cors.origins.0']);
    expect(problem({ origins: ['http://app.example/'] })).toEqual(['cors.origins.0']);
    expect(problem({ credentials: 'yes' })).toEqual(['cors.credentials']);
    expect(problem({ maxAgeSeconds: -1 })).toEqual(['cors.maxAgeSeconds']);
  });
});
