/**
 * A real browser on a page of another origin (another loopback port) calling the gateway: fetch over
 * /graphql and /v1/*, and a graphql-ws subscription, work when server.cors.origins lists the page's origin
 * and are blocked by the browser itself when it does not. Needs Chromium at /usr/bin/chromium.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { createClient as CreateClient } from 'graphql-ws';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ADMIN_KEY = 'sk-browser-admin-0123456789';
/** graphql-ws's browser build (an ES module importing its sibling chunks), served to the page. */
const GRAPHQL_WS_DIST = dirname(createRequire(import.meta.url).resolve('graphql-ws'));

/** The page: loads graphql-ws's client as an ES module (the way a browser app would) and hands it to the tests. */
const PAGE = `<!doctype html><title>another origin</title>
<script type="module">import { createClient } from '/graphql-ws/client.js'; window.graphqlWs = { createClient };</script>`;

/** A tiny site on its own loopback port: the page, and graphql-ws's ESM files under /graphql-ws/. */
async function startSite(): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      return;
    }
    const file = path.startsWith('/graphql-ws/') ? basename(path) : '';
    if (/^[\w.-]+\.js$/.test(file) && existsSync(join(GRAPHQL_WS_DIST, file))) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(readFileSync(join(GRAPHQL_WS_DIST, file)));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

interface FetchOutcome {
  ok: boolean;
  status?: number;
  body?: unknown;
  /** Response headers the page could read (only exposed ones are visible to it). */
  headers?: Record<string, string | null>;
  error?: string;
}

/** `fetch` from inside the page, with a bearer key (so the browser preflights it). */
function pageFetch(page: Page, url: string, body: unknown, read: string[]): Promise<FetchOutcome> {
  return page.evaluate(
    async ({ url, body, read, key }) => {
      try {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
        return { ok: true, status: r.status, body: await r.json(), headers: Object.fromEntries(read.map((h) => [h, r.headers.get(h)])) };
      } catch (e) {
        return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
      }
    },
    { url, body, read, key: ADMIN_KEY },
  );
}

interface SubscriptionOutcome {
  typenames: string[];
  text: string;
  error?: string;
  /** A bare WebSocket to the same URL: whether it opened, what it received, how it closed. */
  raw: { opened: boolean; messages: number; closeCode: number };
}

/** A graphql-ws subscription from inside the page (graphql-ws loaded as an ES module), and a bare WebSocket. */
function pageSubscribe(page: Page, wsUrl: string): Promise<SubscriptionOutcome> {
  return page.evaluate(
    async ({ wsUrl, key }) => {
      const raw = await new Promise<{ opened: boolean; messages: number; closeCode: number }>((resolve) => {
        const out = { opened: false, messages: 0, closeCode: 0 };
        const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
        ws.onopen = () => {
          out.opened = true;
          ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
        };
        ws.onmessage = () => {
          out.messages++;
          ws.close(1000);
        };
        ws.onclose = (e) => resolve({ ...out, closeCode: e.code });
      });
      const { createClient } = (globalThis as unknown as { graphqlWs: { createClient: typeof CreateClient } }).graphqlWs;
      const client = createClient({ url: wsUrl, connectionParams: { authorization: `Bearer ${key}` }, retryAttempts: 0 });
      const typenames: string[] = [];
      let text = '';
      try {
        const events = client.iterate<{ completionStream: { __typename: string; text?: string } }>({
          query: `subscription($input: CompletionInput!) { completionStream(input: $input) {
            __typename ... on TextDeltaEvent { text } ... on CompletionDoneEvent { completion { id } } } }`,
          variables: { input: { messages: [{ role: 'USER', content: 'Say hello' }] } },
        });
        for await (const r of events) {
          const event = r.data?.completionStream;
          if (!event) continue;
          typenames.push(event.__typename);
          text += event.text ?? '';
        }
        return { typenames, text, raw };
      } catch (e) {
        const error = e instanceof Error ? `${e.name}: ${e.message}` : `${(e as Event).type ?? ''} ${(e as CloseEvent).code ?? ''}`.trim();
        return { typenames, text, raw, error: error || 'error' };
      } finally {
        await client.dispose();
      }
    },
    { wsUrl, key: ADMIN_KEY },
  );
}

const HAS_CHROMIUM = existsSync(CHROMIUM);

describe.skipIf(!HAS_CHROMIUM)(`a browser page of another origin${HAS_CHROMIUM ? '' : ` (skipped: no Chromium at ${CHROMIUM})`}`, () => {
  let allowedSite: { origin: string; server: Server };
  let otherSite: { origin: string; server: Server };
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    allowedSite = await startSite();
    otherSite = await startSite();
    stack = await startStack((c) => ({ ...c, keys: [{ key: ADMIN_KEY, name: 'ops', scope: 'admin' }], server: { ...c.server, cors: { origins: [allowedSite.origin] } } }));
    // A fresh temporary profile per launch (Playwright's default).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    for (const site of [allowedSite, otherSite]) await new Promise((ok) => site?.server.close(ok));
  });

  async function openPage(origin: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => 'graphqlWs' in globalThis);
    return page;
  }

  it('an allowed origin reads /graphql and /v1/chat/completions answers, exposed headers included', async () => {
    const page = await openPage(allowedSite.origin);
    try {
      const gql = await pageFetch(page, `${stack.url}/graphql`, { query: '{ viewer { name scope localMode } }' }, []);
      expect(gql).toMatchObject({ ok: true, status: 200, body: { data: { viewer: { name: 'ops', scope: 'ADMIN', localMode: false } } } });

      const chat = await pageFetch(page, `${stack.url}/v1/chat/completions`, { model: 'default', messages: [{ role: 'user', content: 'hi' }] }, [
        'x-request-id',
        'x-switchboard-provider',
        'x-switchboard-cost-usd',
      ]);
      expect(chat).toMatchObject({ ok: true, status: 200, body: { object: 'chat.completion' } });
      expect(chat.headers?.['x-request-id']).toBeTruthy();
      expect(chat.headers?.['x-switchboard-provider']).toBeTruthy();
      expect(chat.headers?.['x-switchboard-cost-usd']).not.toBeNull();
    } finally {
      await page.close();
    }
  });

  it('an allowed origin streams a completion over graphql-ws', async () => {
    const page = await openPage(allowedSite.origin);
    try {
      const sub = await pageSubscribe(page, `${stack.url.replace(/^http/, 'ws')}/graphql`);
      expect(sub.error).toBeUndefined();
      expect(sub.raw).toMatchObject({ opened: true, messages: 1 });
      expect(sub.typenames[0]).toBe('CompletionStartEvent');
      expect(sub.typenames).toContain('TextDeltaEvent');
      expect(sub.typenames.at(-1)).toBe('CompletionDoneEvent');
      expect(sub.text.length).toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  });

  it('another origin is blocked: fetch rejects with a TypeError and the mutation never runs', async () => {
    const page = await openPage(otherSite.origin);
    try {
      const mutation = 'mutation { upsertRoute(input: { name: "from-other-site", targets: [{ provider: "sim-ollama", model: "llama3.2" }] }) { name } }';
      const gql = await pageFetch(page, `${stack.url}/graphql`, { query: mutation }, []);
      expect(gql.ok).toBe(false);
      expect(gql.error).toMatch(/^TypeError/);
      const chat = await pageFetch(page, `${stack.url}/v1/chat/completions`, { model: 'default', messages: [{ role: 'user', content: 'hi' }] }, []);
      expect(chat.ok).toBe(false);
      expect(chat.error).toMatch(/^TypeError/);
      // The preflight was refused, so the browser never sent the request itself.
      expect(await stack.gql('{ route(name: "from-other-site") { name } }', {}, ADMIN_KEY)).toEqual({ data: { route: null } });
    } finally {
      await page.close();
    }
  });

  it('another origin is blocked: its WebSocket closes without opening or receiving anything', async () => {
    const page = await openPage(otherSite.origin);
    try {
      const sub = await pageSubscribe(page, `${stack.url.replace(/^http/, 'ws')}/graphql`);
      expect(sub.raw).toEqual({ opened: false, messages: 0, closeCode: 1006 });
      expect(sub.typenames).toEqual([]);
      expect(sub.error).toBeDefined();
    } finally {
      await page.close();
    }
  });
});
