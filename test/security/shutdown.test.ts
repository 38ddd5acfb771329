import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createClient } from 'graphql-ws';
import OpenAI, { APIError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { installProcessGuards } from '../../src/process-guards.ts';
import { connectRedisLedgerSink } from '../../src/store/redis-ledger-sink.ts';
import { dropPrefix, uniquePrefix } from '../store/redis-harness.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';
import { startSimulator } from '../../src/simulator/simulator-server.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const cli = join(import.meta.dirname, '../../src/cli.ts');

const STREAM = /* GraphQL */ `
  subscription($input: CompletionInput!) {
    completionStream(input: $input) {
      __typename
      ... on TextDeltaEvent { text }
      ... on CompletionDoneEvent { completion { finishReason } }
      ... on CompletionErrorEvent { code message partialText retryable }
    }
  }
`;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** A stack whose default route streams slowly: `words` chunks, `delayMs` apart. */
async function slowStack(words: number, delayMs: number): Promise<Stack> {
  stack = await startStack();
  stack.sims.openai.setFaults({ chunkDelayMs: delayMs, replyWords: words });
  return stack;
}

describe('shutdown with streams open past the grace period', () => {
  it('a REST stream gets a final shutting_down error frame (no [DONE]) before its socket ends', async () => {
    const s = await slowStack(200, 50);
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'default', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    expect(text).toContain('chat.completion.chunk');
    const closing = s.app.close(200);
    for (let i = 0; i < 1_000; i++) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await closing;
    // The upstream call was stopped, not left to run to its end (closing the provider pools waits for it).
    expect(s.sims.openai.stats.completed).toBe(0);
    const frames = text.split('\n\n').filter(Boolean);
    const last = frames.at(-1)!;
    expect(text).not.toContain('[DONE]');
    expect(last.startsWith('data: ')).toBe(true);
    expect(JSON.parse(last.slice('data: '.length))).toEqual({
      error: { message: expect.stringContaining('shutting down'), type: 'server_error', param: null, code: 'shutting_down' },
    });
    stack = undefined;
    await Promise.all(Object.values(s.sims).map((sim) => sim.close()));
  });

  it('the official OpenAI SDK raises an APIError with code shutting_down mid-stream', async () => {
    const s = await slowStack(200, 50);
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let chunks = 0;
    let closing: Promise<void> | undefined;
    const failure = await (async () => {
      for await (const _ of stream) if (++chunks === 1) closing = s.app.close(200);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    await closing;
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('shutting_down');
    expect(chunks).toBeGreaterThan(0);
    stack = undefined;
    await Promise.all(Object.values(s.sims).map((sim) => sim.close()));
  });

  it('a graphql-ws subscription gets a CompletionErrorEvent SHUTTING_DOWN before the socket closes', async () => {
    const s = await slowStack(200, 50);
    const client = createClient({ url: `${s.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    const seen: string[] = [];
    const events: Record<string, unknown>[] = [];
    client.on('closed', (ev) => seen.push(`closed ${(ev as { code: number }).code}`));
    let closing: Promise<void> | undefined;
    await new Promise<void>((resolve) => {
      client.subscribe(
        { query: STREAM, variables: { input: { model: 'default', messages: [{ role: 'USER', content: 'hi' }] } } },
        {
          next: (r) => {
            const ev = (r.data as { completionStream: Record<string, unknown> }).completionStream;
            events.push(ev);
            seen.push(String(ev.__typename));
            if (events.length === 1) closing = s.app.close(200);
          },
          error: () => resolve(),
          complete: () => resolve(),
        },
      );
    });
    await closing;
    await client.dispose();
    expect(s.sims.openai.stats.completed).toBe(0);
    const terminal = seen.indexOf('CompletionErrorEvent');
    expect(terminal).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ __typename: 'CompletionErrorEvent', code: 'SHUTTING_DOWN', retryable: true });
    expect((events.at(-1)!.partialText as string).length).toBeGreaterThan(0);
    // The terminal event came before the socket closed.
    const closedAt = seen.findIndex((x) => x.startsWith('closed'));
    expect(closedAt === -1 || closedAt > terminal).toBe(true);
    stack = undefined;
    await Promise.all(Object.values(s.sims).map((sim) => sim.close()));
  });

  it('a subscription that ends within the grace period completes normally', async () => {
    const s = await slowStack(10, 30);
    const client = createClient({ url: `${s.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    const events: Record<string, unknown>[] = [];
    let closing: Promise<void> | undefined;
    await new Promise<void>((resolve) => {
      client.subscribe(
        { query: STREAM, variables: { input: { model: 'default', messages: [{ role: 'USER', content: 'hi' }] } } },
        {
          next: (r) => {
            events.push((r.data as { completionStream: Record<string, unknown> }).completionStream);
            if (events.length === 1) closing = s.app.close(10_000);
          },
          error: () => resolve(),
          complete: () => resolve(),
        },
      );
    });
    await closing;
    await client.dispose();
    expect(events.at(-1)).toMatchObject({ __typename: 'CompletionDoneEvent', completion: { finishReason: 'STOP' } });
    stack = undefined;
    await Promise.all(Object.values(s.sims).map((sim) => sim.close()));
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as { port: number };
  await new Promise((ok) => srv.close(ok));
  return port;
}

describe('switchboard start with the OTLP collector gone', () => {
  it('SIGTERM still closes the store, flushes the log, loses no usage event and exits 0', async () => {
    const sim = await startSimulator({ protocol: 'openai', port: 0 });
    // The ledger is the shared Redis one, so what the process wrote can be read after it exited.
    const prefix = uniquePrefix('otlp-gone');
    try {
      const dir = await mkdtemp(join(tmpdir(), 'sb-otlp-'));
      const config = join(dir, 'c.yaml');
      await writeFile(
        config,
        `server: { shutdownGraceMs: 300 }\nstore: { kind: redis, url: "${TEST_REDIS.url}", prefix: "${prefix}" }\nproviders:\n  - id: sim\n    protocol: openai\n    baseUrl: ${sim.url}/v1\n    models: [{ id: m1 }]\nroutes:\n  - name: default\n    targets: [{ provider: sim, model: m1 }]\n`,
      );
      const child = spawn(process.execPath, [cli, 'start', '--config', config, '--port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`, OTEL_SDK_DISABLED: 'false', LOG_LEVEL: 'info' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const exited = once(child, 'exit');
      while (!/listening on (http:\/\/\S+)/.test(out)) await Promise.race([once(child.stdout, 'data'), exited]);
      const url = out.match(/listening on (http:\/\/\S+)/)![1]!;
      // Traced requests, so the exporter has spans to send at shutdown (and the ledger events to write).
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: `hi ${i}` }] }),
        });
        expect(r.status).toBe(200);
      }
      expect(out).toContain('"tracing":true');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(err).not.toMatch(/ECONNREFUSED|triggerUncaughtException|Unhandled/i);
      expect(code).toBe(0);
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      // The exporter's failure is logged once, as a warning, and shutdown went on past it.
      expect(lines.filter((l) => String(l.msg).startsWith('tracing: spans not exported at shutdown'))).toHaveLength(1);
      expect(lines.at(-1)).toMatchObject({ msg: 'stopped', signal: 'SIGTERM', exitCode: 0 });
      const ledger = connectRedisLedgerSink({ url: TEST_REDIS.url, prefix });
      try {
        if (ledger.client.status !== 'ready') await once(ledger.client, 'ready');
        expect(await ledger.sink.readEvents({ limit: 10 })).toHaveLength(3);
      } finally {
        await ledger.close();
      }
    } finally {
      await sim.close();
      await dropPrefix(prefix);
    }
  });
});

describe('process guards (the CLI installs them on process)', () => {
  function guarded() {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const proc = new EventEmitter();
    const shutdowns: [string, number][] = [];
    installProcessGuards(proc, { logger: createLogger({ destination }), shutdown: (reason, code) => void shutdowns.push([reason, code]) });
    return { proc, lines, shutdowns };
  }

  it('an unhandled rejection is logged (credentials masked) and the process keeps serving', () => {
    const { proc, lines, shutdowns } = guarded();
    proc.emit('unhandledRejection', new Error('export failed: Authorization: Bearer sk-live-abcdefghijklmnop'));
    expect(shutdowns).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, msg: 'unhandled promise rejection; still serving', err: { name: 'Error' } });
    expect(JSON.stringify(lines)).not.toContain('sk-live-abcdefghijklmnop');
  });

  it('an uncaught exception is logged and starts a graceful shutdown that exits 1', () => {
    const { proc, lines, shutdowns } = guarded();
    proc.emit('uncaughtException', Object.assign(new TypeError('boom'), { code: 'ERR_BOOM' }));
    expect(shutdowns).toEqual([['uncaughtException', 1]]);
    expect(lines[0]).toMatchObject({ level: 50, msg: 'uncaught exception; shutting down', err: { name: 'TypeError', code: 'ERR_BOOM', message: 'boom' } });
  });
});
