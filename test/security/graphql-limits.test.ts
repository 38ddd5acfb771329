import { createHash } from 'node:crypto';
import { getIntrospectionQuery, parse } from 'graphql/index.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DOCUMENT_CACHE_BYTES, createDocumentCache } from '../../src/server/graphql/document-cache.ts';
import { ADMIN_KEY, startHarness, type Harness } from '../graphql/harness.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';
import { postChunked } from '../helpers/post-chunked.ts';

let h: Harness;
let stack: Stack;
beforeAll(async () => {
  h = await startHarness();
  stack = await startStack((c) => ({ ...c, server: { bodyLimitBytes: 64 * 1024, cors: { origins: ['https://app.example'] } } }));
});
afterAll(async () => {
  await h.close();
  await stack.close();
});

const CREATE = (alias: string) => `${alias}: createCompletion(input: { messages: [{ role: USER, content: "hi" }] }) { id }`;

describe('document size and the parsed-document cache', () => {
  it('keeps the cache under its byte cap after 150 distinct big documents', () => {
    const cache = createDocumentCache({ maxBytes: DEFAULT_DOCUMENT_CACHE_BYTES });
    // Half padded with 2 MiB of whitespace (as in the attack), half with 256 KiB (small enough to be cached).
    const big = ' '.repeat(2 * 1024 * 1024);
    const medium = ' '.repeat(256 * 1024);
    const keys: string[] = [];
    for (let i = 0; i < 150; i++) {
      const source = `query Q${i} { __typename }${i % 2 === 0 ? big : medium}`;
      const key = createHash('sha256').update(source).digest('hex');
      keys.push(key);
      cache.set(key, parse(source));
    }
    // What the cache really holds: the source text of every document it kept.
    let sourceBytes = 0;
    for (const k of keys) sourceBytes += cache.get(k)?.loc?.source.body.length ?? 0;
    expect(cache.size).toBeGreaterThan(0);
    expect(cache.bytes).toBeLessThanOrEqual(DEFAULT_DOCUMENT_CACHE_BYTES);
    expect(sourceBytes).toBeLessThanOrEqual(DEFAULT_DOCUMENT_CACHE_BYTES);
  });

  it('the endpoint caches through its bounded cache', async () => {
    const padding = ' '.repeat(60_000);
    for (let i = 0; i < 150; i++) {
      const { status } = await h.gql(`query Q${i} { __typename }${padding}`);
      expect(status).toBe(200);
    }
    expect(h.endpoint.documentCache.size).toBeGreaterThan(0);
    expect(h.endpoint.documentCache.bytes).toBeLessThanOrEqual(DEFAULT_DOCUMENT_CACHE_BYTES);
  });

  it('rejects a document over server.graphql.maxDocumentBytes with PAYLOAD_TOO_LARGE in errors[]', async () => {
    const { status, body } = await h.gql(`{ __typename }${' '.repeat(h.config.server.graphql.maxDocumentBytes)}`);
    expect(status).toBe(413);
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', param: 'query' });
    expect(body.errors?.[0]?.message).toContain('maxDocumentBytes');
  });
});

describe('operation limits', () => {
  it('refuses a mutation selecting more root fields than server.graphql.maxMutationFields, before any upstream call', async () => {
    const before = h.registry.calls.length;
    const aliases = Array.from({ length: h.config.server.graphql.maxMutationFields + 1 }, (_, i) => CREATE(`c${i}`)).join(' ');
    const { status, body } = await h.gql(`mutation { ${aliases} }`);
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors?.[0]?.message).toMatch(/root fields/);
    expect(h.registry.calls.length).toBe(before);
  });

  it('still runs a mutation at the limit', async () => {
    const aliases = Array.from({ length: 2 }, (_, i) => CREATE(`c${i}`)).join(' ');
    const { status, body } = await h.gql(`mutation { ${aliases} }`);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });

  it('counts __typename selections in the complexity', async () => {
    // 2,500 connections of which only __typename is selected: 2,501 against the limit of 2,000.
    const { status, body } = await h.gql('{ completions(first: 2500) { __typename } }');
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors?.[0]?.message).toMatch(/complexity 2501 exceeds the limit of 2000/);
  });

  it("answers the standard introspection query (GraphiQL's, codegen's) with the default limits", async () => {
    const { status, body } = await h.gql(getIntrospectionQuery());
    expect(body.errors).toBeUndefined();
    expect(status).toBe(200);
    expect((body.data as { __schema: { queryType: { name: string } } }).__schema.queryType.name).toBe('Query');
  });

  it('gives introspection a budget of its own: a fan-out of fragments over __schema is refused', async () => {
    // Each fragment spreads the next one ten times: 10^4 expansions of the innermost selection.
    const frags = ['fragment F0 on __Type { name kind }'];
    for (let i = 1; i <= 4; i++) frags.push(`fragment F${i} on __Type { ${Array.from({ length: 10 }, () => `...F${i - 1}`).join(' ')} ofType { name } }`);
    const { status, body } = await h.gql(`{ __schema { types { ...F4 } } } ${frags.join(' ')}`);
    expect(status).toBe(400);
    expect(body.errors?.[0]?.message).toMatch(/introspection complexity \d+ exceeds the limit of 20000/);
  });

  it('caps the aliases of one document at server.graphql.maxAliases', async () => {
    const fields = Array.from({ length: h.config.server.graphql.maxAliases + 1 }, (_, i) => `a${i}: __typename`).join(' ');
    const { status, body } = await h.gql(`{ ${fields} }`);
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors?.[0]?.message).toMatch(/aliases/);
  });
});

describe('client errors are client errors', () => {
  it('a document nested too deeply for the parser is GRAPHQL_PARSE_FAILED with 400', async () => {
    const depth = 20_000;
    const { status, body } = await h.gql(`{${'a{'.repeat(depth)}b${'}'.repeat(depth)}}`);
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('an APQ hash that does not match the query is PERSISTED_QUERY_HASH_MISMATCH with 400', async () => {
    const res = await fetch(h.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('PERSISTED_QUERY_HASH_MISMATCH');
  });

  it('a /graphql body over server.bodyLimitBytes is a 413 with GraphQL errors[] and extensions.code', async () => {
    const res = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(100 * 1024) } }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { errors?: Array<{ message: string; extensions: { code: string } }>; error?: unknown };
    expect(body.error).toBeUndefined();
    expect(body.errors?.[0]?.extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a chunked /graphql body over the limit gets its 413 (not a reset)', async () => {
    const port = Number(new URL(stack.url).port);
    const result = await postChunked(port, '/graphql', 5 * 1024 * 1024);
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('schema printing', () => {
  it('introspects an argument whose SDL default is a remapped enum (interval: UsageInterval = HOUR)', async () => {
    const { status, body } = await h.gql('{ __type(name: "Query") { fields { name args { name defaultValue } } } }');
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const fields = (body.data!.__type as { fields: Array<{ name: string; args: Array<{ name: string; defaultValue: string | null }> }> }).fields;
    expect(fields.find((f) => f.name === 'usage')?.args.find((a) => a.name === 'interval')?.defaultValue).toBe('HOUR');
  });
});

describe('graphql-ws documents', () => {
  it('a syntax error and an over-deep document are GRAPHQL_PARSE_FAILED, an oversized one PAYLOAD_TOO_LARGE', async () => {
    const client = createClient({ url: h.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${ADMIN_KEY}` } });
    const codeOf = async (query: string) => {
      try {
        for await (const r of client.iterate({ query })) return r.errors?.[0]?.extensions?.code;
      } catch (e) {
        return (e as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code;
      }
      return undefined;
    };
    try {
      expect(await codeOf('{ __typename')).toBe('GRAPHQL_PARSE_FAILED');
      expect(await codeOf(`{${'a{'.repeat(20_000)}b${'}'.repeat(20_000)}}`)).toBe('GRAPHQL_PARSE_FAILED');
      expect(await codeOf(`{ __typename }${' '.repeat(h.config.server.graphql.maxDocumentBytes)}`)).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      await client.dispose();
    }
  });
});

describe('WebSocket origin check (local mode: every caller is an admin)', () => {
  const wsUrl = () => `${stack.url.replace('http', 'ws')}/graphql`;

  /** Opens a graphql-transport-ws socket with this Origin; resolves with the upgrade's outcome. */
  function upgrade(origin: string): Promise<{ opened: true } | { opened: false; status: number }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl(), 'graphql-transport-ws', { headers: { origin } });
      ws.once('open', () => {
        ws.close();
        resolve({ opened: true });
      });
      ws.once('unexpected-response', (_req, res) => {
        resolve({ opened: false, status: res.statusCode ?? 0 });
        res.resume();
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  it('refuses an upgrade from a foreign origin with 403', async () => {
    expect(await upgrade('http://evil.example')).toEqual({ opened: false, status: 403 });
  });

  it('refuses the "null" origin of a sandboxed page', async () => {
    expect(await upgrade('null')).toEqual({ opened: false, status: 403 });
  });

  it("accepts the gateway's own origin and an origin listed in server.cors.origins", async () => {
    expect(await upgrade(stack.url)).toEqual({ opened: true });
    expect(await upgrade('https://app.example')).toEqual({ opened: true });
  });

  it('a foreign page cannot run upsertRoute over graphql-ws; a client without Origin still can', async () => {
    const run = (headers: Record<string, string>) => {
      const client = createClient({
        url: wsUrl(),
        webSocketImpl: class extends WebSocket {
          constructor(url: string, protocols: string | string[]) {
            super(url, protocols, { headers });
          }
        },
        retryAttempts: 0,
        lazy: true,
      });
      const result = (async () => {
        for await (const r of client.iterate({
          query: 'mutation { upsertRoute(input: { name: "hijacked", targets: [{ provider: "sim-ollama", model: "llama3.2" }] }) { name } }',
        })) return r;
        return undefined;
      })();
      return result.finally(() => client.dispose());
    };
    await expect(run({ origin: 'http://evil.example' })).rejects.toBeDefined();
    const ok = await run({});
    expect(ok?.errors).toBeUndefined();
    expect(ok?.data).toEqual({ upsertRoute: { name: 'hijacked' } });
  });
});
