/**
 * The Vertex AI adapter's Google credentials against the simulator's token endpoint: tokens renewed before they
 * expire (a clock shared by the adapter and the simulator, no sleeping), a refused token dropped and the call tried
 * once more, credentials from GOOGLE_APPLICATION_CREDENTIALS, failures as provider_auth errors that never quote a
 * token or a key, and google-auth-library left unloaded until a token is needed.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/core/index.ts';
import { createVertexAdapter } from '../../src/providers/vertex/index.ts';
import type { CallOptions } from '../../src/providers/spec.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { drainChecked, errorOf, rejection } from '../helpers/stream-contract.ts';
import { startVertexSim, vertexConfig, type VertexSim } from './vertex-sim.ts';

const req: ChatRequest = { messages: [{ role: 'user', content: 'Hello Vertex' }] };
const opts = (model: string, headers?: Record<string, string>): CallOptions => ({ model, capabilities: ['tools'], ...(headers && { headers }) });
const MODELS = ['gemini-2.5-flash', 'claude-haiku-4-5@20251001'];

const tokensSeen = (v: VertexSim) => new Set(v.modelRequests().map((r) => String(r.headers.authorization).replace(/^Bearer /, '')));

describe('vertex adapter: token lifetime', () => {
  it('renews a short-lived token before it expires: every call succeeds, none is refused, several tokens are issued', async () => {
    const clock = createFakeClock(Date.now());
    const v = await startVertexSim({ now: clock.now, tokenLifetimeS: 2 });
    const adapter = createVertexAdapter(vertexConfig(v), { now: clock.now });
    try {
      // Six calls a second apart over five seconds: two and a half token lifetimes, on both publishers.
      for (let i = 0; i < 6; i++) {
        if (i > 0) clock.advance(1000);
        const res = await adapter.generate(req, opts(MODELS[i % 2]!));
        expect(res.text.length).toBeGreaterThan(0);
      }
      // One request per call: a refused (expired) token would have made the adapter send a call twice.
      expect(v.modelRequests()).toHaveLength(6);
      expect(v.tokenRequests()).toBeGreaterThanOrEqual(3);
      expect(tokensSeen(v).size).toBeGreaterThanOrEqual(3);
    } finally {
      await adapter.close();
      await v.close();
    }
  });

  it('drops a token Vertex refuses (401) and tries the call once more with a new one, streamed or not', async () => {
    let simNow = Date.now();
    const v = await startVertexSim({ now: () => simNow, tokenLifetimeS: 60 });
    const adapter = createVertexAdapter(vertexConfig(v));
    try {
      await adapter.generate(req, opts(MODELS[0]!));
      expect(v.tokenRequests()).toBe(1);
      // The adapter's clock does not move, so it still trusts its token; Vertex's says it expired.
      simNow += 61_000;
      expect((await adapter.generate(req, opts(MODELS[1]!))).text.length).toBeGreaterThan(0);
      expect(v.tokenRequests()).toBe(2);
      expect(v.modelRequests()).toHaveLength(3);
      simNow += 61_000;
      const parts = await drainChecked(adapter.stream(req, opts(MODELS[0]!)));
      expect(parts.at(-1)!.type).toBe('finish');
      expect(parts.filter((p) => p.type === 'start')).toHaveLength(1);
      expect(v.tokenRequests()).toBe(3);
    } finally {
      await adapter.close();
      await v.close();
    }
  });
});

describe('vertex adapter: credentials', () => {
  let v: VertexSim;
  beforeAll(async () => {
    v = await startVertexSim();
  });
  afterAll(() => v.close());

  it('takes application default credentials from GOOGLE_APPLICATION_CREDENTIALS when config names no key file', async () => {
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = v.keyFile;
    const adapter = createVertexAdapter(vertexConfig(v, { credentials: undefined }));
    try {
      const before = v.tokenRequests();
      expect((await adapter.generate(req, opts(MODELS[0]!))).text.length).toBeGreaterThan(0);
      expect(v.tokenRequests()).toBe(before + 1);
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
      await adapter.close();
    }
  });

  it('reports a key the token endpoint refuses as provider_auth, without quoting the key or the assertion', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const forged = await v.writeKeyFile('forged.json', { ...v.sa, private_key: other });
    const adapter = createVertexAdapter(vertexConfig(v, { credentials: { type: 'google', keyFile: forged } }));
    try {
      const before = v.modelRequests().length;
      const err = await rejection(adapter.generate(req, opts(MODELS[0]!)));
      expect(err.kind).toBe('provider_auth');
      expect(err.message).toContain('Invalid JWT Signature');
      const text = `${err.message} ${err.stack ?? ''} ${String(err.cause ?? '')}`;
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toMatch(/eyJ[\w-]+\./);
      expect(errorOf(await drainChecked(adapter.stream(req, opts(MODELS[1]!)))).kind).toBe('provider_auth');
      // Without a token nothing was sent to the model.
      expect(v.modelRequests()).toHaveLength(before);
    } finally {
      await adapter.close();
    }
    const missing = createVertexAdapter(vertexConfig(v, { credentials: { type: 'google', keyFile: join(v.keyFile, '..', 'absent.json') } }));
    try {
      expect(await rejection(missing.generate(req, opts(MODELS[0]!)))).toMatchObject({ kind: 'provider_auth', message: expect.stringContaining('does not exist') });
    } finally {
      await missing.close();
    }
  });

  it.each(MODELS)('never lets the access token into an error, even when Vertex quotes the request back (%s)', async (model) => {
    const adapter = createVertexAdapter(vertexConfig(v));
    try {
      for (const status of ['401', '500']) {
        const headers = { 'x-sim-status': status, 'x-sim-echo-headers': 'true' };
        const before = v.modelRequests().length;
        const err = await rejection(adapter.generate(req, opts(model, headers)));
        const streamErr = errorOf(await drainChecked(adapter.stream(req, opts(model, headers))));
        const tokens = [...new Set(v.modelRequests().slice(before).map((r) => String(r.headers.authorization).replace(/^Bearer /, '')))];
        expect(tokens.length).toBeGreaterThan(0);
        expect(err.kind).toBe(status === '401' ? 'provider_auth' : 'unavailable');
        for (const e of [err, streamErr]) {
          const text = `${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}`;
          for (const t of tokens) expect(text).not.toContain(t);
        }
      }
    } finally {
      await adapter.close();
    }
  });
});

describe('vertex adapter: loading google-auth-library', () => {
  it('is not loaded by creating a Vertex adapter, only once a token is needed', async () => {
    const script = `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('google-auth-library'));
      const { createVertexAdapter } = await import(${JSON.stringify(join(process.cwd(), 'src/providers/vertex/index.ts'))});
      const a = createVertexAdapter({ id: 'v', baseUrl: 'http://127.0.0.1:9', project: 'p', timeouts: { connectMs: 500, firstByteMs: 500, idleMs: 500, totalMs: 500 },
        credentials: { type: 'google', keyFile: '/nonexistent/key.json' } });
      const before = loaded();
      await a.generate({ messages: [{ role: 'user', content: 'hi' }] }, { model: 'gemini-2.5-flash', capabilities: [] }).catch(() => undefined);
      console.log(JSON.stringify({ before, after: loaded() }));
      await a.close();
    `;
    const node = join(process.cwd(), 'node_modules/.bin/node');
    const { stdout } = await promisify(execFile)(node, ['--input-type=module', '-e', script], { cwd: process.cwd() });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ before: false, after: true });
  });
});
