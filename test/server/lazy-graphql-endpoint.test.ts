import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp, type App } from '../../src/app.ts';
import { ConfigSchema } from '../../src/config/index.ts';
import type { GraphQLEndpoint, GraphQLEndpointDeps } from '../../src/server/graphql/graphql-endpoint.ts';
import { createLazyGraphQLEndpoint } from '../../src/server/graphql/lazy-graphql-endpoint.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

/** A stand-in for the real endpoint: answers every HTTP request with 200 and counts what it was asked. */
function fakeEndpoint() {
  const seen = { http: 0, upgrades: 0, closed: 0 };
  const endpoint = {
    async handleHttp(_req: IncomingMessage, res: ServerResponse) {
      seen.http++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{"ok":true}}');
    },
    handleUpgrade(_req: IncomingMessage, socket: { destroy(): void }) {
      seen.upgrades++;
      socket.destroy();
    },
    async close() {
      seen.closed++;
    },
  } as unknown as GraphQLEndpoint;
  return { endpoint, seen };
}

const deps = {} as GraphQLEndpointDeps;

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  const get = () =>
    new Promise<{ status: number; body: string }>((ok, fail) => {
      request({ host: '127.0.0.1', port, path: '/graphql', method: 'POST' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
      })
        .on('error', fail)
        .end('{}');
    });
  return { get, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

describe('the GraphQL API loaded on first use', () => {
  it('loads once for concurrent first requests, and not before the first one', async () => {
    const { endpoint, seen } = fakeEndpoint();
    let imports = 0;
    const lazy = createLazyGraphQLEndpoint(deps, async () => {
      imports++;
      await new Promise((r) => setTimeout(r, 20));
      return { createGraphQLEndpoint: async () => endpoint };
    });
    expect(lazy.loaded).toBe(false);
    const srv = await serve((req, res) => void lazy.handleHttp(req, res, ''));
    try {
      expect(imports).toBe(0);
      const answers = await Promise.all([srv.get(), srv.get(), srv.get()]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      expect(imports).toBe(1);
      expect(seen.http).toBe(3);
      expect(lazy.loaded).toBe(true);
      await lazy.close();
      expect(seen.closed).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it('answers a failed load with a GraphQL 500 and tries again on the next request', async () => {
    const { endpoint, seen } = fakeEndpoint();
    let imports = 0;
    const errors: unknown[] = [];
    const lazy = createLazyGraphQLEndpoint({ ...deps, logger: { warn: () => undefined, error: (o) => errors.push(o) } }, async () => {
      imports++;
      if (imports === 1) throw new Error('module missing');
      return { createGraphQLEndpoint: async () => endpoint };
    });
    const srv = await serve((req, res) => void lazy.handleHttp(req, res, ''));
    try {
      const first = await srv.get();
      expect(first.status).toBe(500);
      expect(JSON.parse(first.body)).toEqual({ errors: [{ message: 'the GraphQL API is unavailable', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      expect(errors).toHaveLength(1);
      const second = await srv.get();
      expect(second.status).toBe(200);
      expect(imports).toBe(2);
      expect(seen.http).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it('closes without loading when nothing used it, and drops an upgrade that arrives after close', async () => {
    const { endpoint, seen } = fakeEndpoint();
    let imports = 0;
    const lazy = createLazyGraphQLEndpoint(deps, async () => {
      imports++;
      return { createGraphQLEndpoint: async () => endpoint };
    });
    await lazy.close();
    expect(imports).toBe(0);
    const socket = new Socket();
    let destroyed = false;
    socket.destroy = (() => {
      destroyed = true;
      return socket;
    }) as Socket['destroy'];
    lazy.handleUpgrade({} as IncomingMessage, socket, Buffer.alloc(0));
    await new Promise((r) => setTimeout(r, 10));
    expect(destroyed).toBe(true);
    expect(seen.upgrades).toBe(0);
  });
});

describe('a gateway whose GraphQL API is loaded on first use', () => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.close(100);
    app = undefined;
  });

  const config = (preload: boolean) =>
    ConfigSchema.parse({
      providers: [{ id: 'p', protocol: 'openai', baseUrl: 'http://127.0.0.1:9/v1', models: [{ id: 'm' }] }],
      routes: [{ name: 'default', targets: [{ provider: 'p', model: 'm' }] }],
      server: { graphql: { preload } },
    });

  it.each([false, true])('serves its first HTTP query and its first WebSocket subscription (preload %s)', async (preload) => {
    app = await createApp({ config: config(preload), listen: { host: '127.0.0.1', port: 0 }, logger: createLogger({ level: 'silent' }) });
    const url = app.server.url;
    // The first use is a WebSocket: the upgrade waits for the API to load.
    const ws = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const acked = await new Promise<string>((ok, fail) => {
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
      ws.on('message', (d) => ok(JSON.parse(String(d)).type as string));
      ws.on('error', fail);
    });
    expect(acked).toBe('connection_ack');
    ws.close();
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ routes { name } }' }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { routes: [{ name: 'default' }] } });
  });
});
