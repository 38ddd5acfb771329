/**
 * The console's static handler (src/server/console-assets.ts) over a real HTTP server and a temporary
 * console/dist, and GraphiQL's place on GET /graphql in a whole gateway.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleAssets, prefersHtml, type ConsoleAssetsOptions } from '../../src/server/console-assets.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

let tmp: string;
let dist: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sb-console-'));
  dist = join(tmp, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title>');
  writeFileSync(join(dist, 'graphiql.html'), '<!doctype html><title>graphiql</title>');
  writeFileSync(join(dist, 'assets', 'index-AbC123.js'), 'console.log("app")');
  writeFileSync(join(dist, 'assets', 'index-AbC123.css'), 'body{}');
  writeFileSync(join(dist, 'robots.txt'), 'User-agent: *');
  writeFileSync(join(dist, '.hidden'), 'hidden');
  writeFileSync(join(tmp, 'secret.txt'), 'TOP-SECRET');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request (fetch would normalize `..` out of the path before sending it). */
function get(url: string, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: opts.method ?? 'GET', headers: opts.headers, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Stops a test server without waiting for keep-alive sockets to time out. */
function stop(server: Server): Promise<void> {
  return new Promise((ok) => {
    server.close(() => ok());
    server.closeAllConnections();
  });
}

async function serve(opts: ConsoleAssetsOptions): Promise<{ url: string; server: Server }> {
  const assets = createConsoleAssets(opts);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    void assets.handle(req, res, path).then((handled) => {
      if (!handled) res.writeHead(418).end('not the console');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('console static files', () => {
  let url: string;
  let server: Server;
  beforeAll(async () => ({ url, server } = await serve({ dir: dist, console: true, graphiql: false })));
  afterAll(() => stop(server));

  it('serves index.html at /console and /console/, not cached, with a CSP and no framing', async () => {
    for (const path of ['/console', '/console/']) {
      const r = await get(url, path);
      expect(r.status).toBe(200);
      expect(r.body).toContain('<title>console</title>');
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['x-frame-options']).toBe('DENY');
    }
  });

  it('answers deep links of the app with index.html', async () => {
    for (const path of ['/console/overview', '/console/routes/default/edit', '/console/completions/cmpl_0123abcd']) {
      const r = await get(url, path);
      expect(r.status, path).toBe(200);
      expect(r.body).toContain('<title>console</title>');
    }
  });

  it('serves hashed assets as immutable with their content type, other files as no-cache', async () => {
    const js = await get(url, '/console/assets/index-AbC123.js');
    expect(js.status).toBe(200);
    expect(js.body).toBe('console.log("app")');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    const css = await get(url, '/console/assets/index-AbC123.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const txt = await get(url, '/console/robots.txt');
    expect(txt.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(txt.headers['cache-control']).toBe('no-cache');
  });

  it('answers 404 for a missing file (not index.html)', async () => {
    for (const path of ['/console/assets/missing-123.js', '/console/logo.png']) {
      const r = await get(url, path);
      expect(r.status, path).toBe(404);
      expect(r.body).not.toContain('<title>console</title>');
    }
  });

  it('never reads outside console/dist, nor dotfiles', async () => {
    const attempts = [
      '/console/../secret.txt',
      '/console/assets/../../secret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/assets/..%2f..%2fsecret.txt',
      '/console/..%5csecret.txt',
      '/console/%2e%2e%2fsecret.txt',
      '/console/.hidden',
      '/console/%00index.html',
      '/console/%E0%A4%A',
    ];
    for (const path of attempts) {
      const r = await get(url, path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain('TOP-SECRET');
      expect(r.body, path).not.toContain('hidden');
    }
  });

  it('answers HEAD without a body, a matching If-None-Match with 304, and other methods with 405', async () => {
    const head = await get(url, '/console/assets/index-AbC123.js', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(String('console.log("app")'.length));
    const again = await get(url, '/console/assets/index-AbC123.js', { headers: { 'if-none-match': String(head.headers.etag) } });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    const post = await get(url, '/console/', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('leaves paths that only start like the console alone', async () => {
    expect((await get(url, '/consoles')).status).toBe(418);
  });
});

describe('console switches', () => {
  it('a missing build gets a 503 page that says how to build it', async () => {
    const { url, server } = await serve({ dir: join(tmp, 'nothing-here'), console: true, graphiql: true });
    try {
      for (const path of ['/console/', '/console/overview', '/console/assets/index-AbC123.js']) {
        const r = await get(url, path);
        expect(r.status, path).toBe(503);
        expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(r.body).toContain('npm run build:console');
      }
    } finally {
      await stop(server);
    }
  });

  it('console off: no pages; with GraphiQL on, only the assets GraphiQL loads', async () => {
    const off = await serve({ dir: dist, console: false, graphiql: false });
    const giql = await serve({ dir: dist, console: false, graphiql: true });
    try {
      expect((await get(off.url, '/console/')).status).toBe(418);
      expect((await get(off.url, '/console/assets/index-AbC123.js')).status).toBe(418);
      expect((await get(giql.url, '/console/')).status).toBe(418);
      expect((await get(giql.url, '/console/assets/index-AbC123.js')).status).toBe(200);
    } finally {
      await Promise.all([off, giql].map(({ server }) => stop(server)));
    }
  });
});

describe('prefersHtml', () => {
  it('is true for a browser navigation, false for API clients', () => {
    expect(prefersHtml(BROWSER_ACCEPT)).toBe(true);
    expect(prefersHtml('text/html')).toBe(true);
    expect(prefersHtml('text/html, application/json;q=0.9')).toBe(true);
    expect(prefersHtml(undefined)).toBe(false);
    expect(prefersHtml('*/*')).toBe(false);
    expect(prefersHtml('application/json')).toBe(false);
    expect(prefersHtml('application/graphql-response+json, application/json;q=0.9')).toBe(false);
    expect(prefersHtml('application/json, text/html')).toBe(false);
    expect(prefersHtml('text/html;q=0.5, application/json')).toBe(false);
    expect(prefersHtml('text/html;q=0')).toBe(false);
  });
});

describe('GraphiQL on GET /graphql', () => {
  let local: Stack;
  let keyed: Stack;
  let keyedOn: Stack;
  const KEYS = [{ key: 'sk-admin-graphiql-test-0001', name: 'ops', scope: 'admin' as const }];
  beforeAll(async () => {
    [local, keyed, keyedOn] = await Promise.all([
      startStack(),
      startStack((c) => ({ ...c, keys: KEYS })),
      startStack((c) => ({ ...c, keys: KEYS, server: { ...c.server, graphiql: true } })),
    ]);
  });
  afterAll(async () => {
    await Promise.all([local, keyed, keyedOn].map((s) => s?.close()));
  });

  /** The GraphiQL page, or the "not built" page when console/dist is absent: HTML either way, never GraphQL JSON. */
  const isGraphiQL = (r: Response) => r.headers.get('content-type')?.startsWith('text/html') === true && (r.status === 200 || r.status === 503);

  it('is on by default in local mode for a browser navigation', async () => {
    const r = await fetch(`${local.url}/graphql`, { headers: { accept: BROWSER_ACCEPT } });
    expect(isGraphiQL(r)).toBe(true);
    expect(await r.text()).toMatch(/graphiql|npm run build:console/i);
  });

  it('a GET with a query still executes GraphQL, whatever Accept says', async () => {
    for (const accept of [BROWSER_ACCEPT, 'application/json']) {
      const r = await fetch(`${local.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept, 'apollo-require-preflight': 'true' } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('json');
      expect(await r.json()).toEqual({ data: { __typename: 'Query' } });
    }
  });

  it('POST is GraphQL as before, and API clients without text/html get GraphQL', async () => {
    const post = await fetch(`${local.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: BROWSER_ACCEPT }, body: '{"query":"{ __typename }"}' });
    expect(await post.json()).toEqual({ data: { __typename: 'Query' } });
    const api = await fetch(`${local.url}/graphql`, { headers: { accept: 'application/json' } });
    expect(api.headers.get('content-type')).not.toContain('text/html');
  });

  it('is off by default with keys, and on when server.graphiql says so', async () => {
    const off = await fetch(`${keyed.url}/graphql`, { headers: { accept: BROWSER_ACCEPT } });
    expect(off.headers.get('content-type')).not.toContain('text/html');
    const on = await fetch(`${keyedOn.url}/graphql`, { headers: { accept: BROWSER_ACCEPT } });
    expect(isGraphiQL(on)).toBe(true);
  });
});
