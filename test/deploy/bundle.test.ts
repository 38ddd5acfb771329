/**
 * The production build runs the bundle in dist/gateway/ (scripts/bundle.ts), not the sources the rest of
 * the suite imports: this starts a freshly bundled gateway as a process and goes through what a bundle can
 * break (lazily loaded chunks, files found relative to the bundle, the token-count worker entry).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const OUT = `dist/bundle-test-${process.pid}`;
const dir = join(ROOT, OUT);
/** The Node flags of `npm run start:dist`, which every launcher passes (test/deploy/docker-compose.test.ts holds them equal). */
const LAUNCH_FLAGS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start:dist']!
  .split(/\s+/)
  .filter((w) => w.startsWith('--'));

let child: ChildProcess | undefined;
let url = '';

beforeAll(async () => {
  execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.ts'), '--out', OUT], { cwd: ROOT, stdio: 'pipe' });
  const env = { ...process.env };
  for (const k of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'SWITCHBOARD_CONFIG', 'REDIS_URL']) delete env[k];
  child = spawn(process.execPath, [...LAUNCH_FLAGS, join(dir, 'cli.js'), 'start', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  while (!/simulated providers[\s\S]*ollama/.test(out)) await once(child.stdout!, 'data');
  url = out.match(/listening on (http:\/\/\S+)/)![1]!;
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('the bundled gateway (dist/gateway/)', () => {
  it('is a flat folder of ES modules with the CLI and the token-count worker as entries', () => {
    const files = readdirSync(dir);
    expect(files).toContain('cli.js');
    expect(files).toContain('token-count-worker.js');
    expect(files.every((f) => f.endsWith('.js'))).toBe(true);
  });

  it('answers REST, a stream and GraphQL (a lazily loaded chunk reading schema/) through the official client', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'local', maxRetries: 0 });
    const done = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    expect(done.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(done.usage!.completion_tokens).toBeGreaterThan(0);

    let text = '';
    let finish: string | null = null;
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('stop');

    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation{createCompletion(input:{messages:[{role:USER,content:"hi"}]}){id message{content} usage{outputTokens}}}' }),
    });
    const body = (await res.json()) as { data?: { createCompletion: { id: string; usage: { outputTokens: number } } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data!.createCompletion.id).toMatch(/^cmpl_/);
    expect(body.data!.createCompletion.usage.outputTokens).toBeGreaterThan(0);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it("runs Apollo with the bundle's shims (negotiator, the query hash) as the sources run it", async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ providers { id } }' }) });
    for (let i = 0; i < 2; i++) {
      const asked = await post({ accept: 'application/graphql-response+json, application/json;q=0.9' });
      expect(asked.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
      expect(((await asked.json()) as { errors?: unknown }).errors).toBeUndefined();
      expect((await post({})).headers.get('content-type')).toMatch(/^application\/json/);
      expect((await post({ accept: 'text/csv' })).status).toBe(406);
    }
    const traced = (await (await post({ 'apollo-federation-include-trace': 'ftv1' })).json()) as { extensions?: { ftv1?: unknown } };
    expect(typeof traced.extensions?.ftv1).toBe('string');
    const plain = (await (await post({})).json()) as { extensions?: { ftv1?: unknown } };
    expect(plain.extensions?.ftv1).toBeUndefined();
  });

  it("the bundle's token-count worker starts beside it and counts", async () => {
    const stop = new SharedArrayBuffer(4);
    const w = new Worker(join(dir, 'token-count-worker.js'), { workerData: { stop } });
    try {
      const messages: unknown[] = [];
      w.on('message', (m) => messages.push(m));
      const [ready] = (await once(w, 'message')) as [{ ready?: boolean }];
      expect(ready.ready).toBe(true);
      w.postMessage({ id: 1, texts: ['hello world'] });
      const [answer] = (await once(w, 'message')) as [{ id: number; tokens: number }];
      expect(answer).toEqual({ id: 1, tokens: 2 });
    } finally {
      await w.terminate();
    }
  }, 30_000);

  it('stops on SIGTERM with exit code 0', async () => {
    child!.kill('SIGTERM');
    const [code] = await once(child!, 'exit');
    expect(code).toBe(0);
    expect(existsSync(join(dir, 'cli.js'))).toBe(true);
  });
});
