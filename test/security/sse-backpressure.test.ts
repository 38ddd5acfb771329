/**
 * A REST stream whose client stops reading must stop the gateway reading from the provider: when the
 * response buffer is full (`res.write` returns false) the stream loop waits for 'drain' (or 'close') before
 * it pulls the next delta, so the provider's socket is paused rather than its whole reply held in memory.
 */
import { EventEmitter, once } from 'node:events';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Completion, CompletionEvent } from '../../src/core/index.ts';
import type { StoreRequest } from '../../src/gateway/gateway-request.ts';
import type { Gateway } from '../../src/gateway/gateway-service.ts';
import type { Services } from '../../src/gateway/services.ts';
import { RequestContext } from '../../src/gateway/request-context.ts';
import { chatCompletions, type RestContext } from '../../src/server/openai-compat/openai-routes.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const ADMIN = 'sk-admin-0123456789abcdef';

/** Lets pending promise callbacks and I/O callbacks run, `turns` times over. */
async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((ok) => setImmediate(ok));
}

describe('the REST stream loop honours backpressure (a fake response whose buffer is full)', () => {
  /** A ServerResponse stand-in: `write` answers `accepting`; 'drain' and 'close' are emitted by the test. */
  function fakeResponse() {
    const res = Object.assign(new EventEmitter(), {
      accepting: false,
      headersSent: false,
      destroyed: false,
      writes: [] as string[],
      ended: undefined as string | undefined,
      writeHead() {
        res.headersSent = true;
        return res;
      },
      setHeader() {},
      write(chunk: string) {
        res.writes.push(chunk);
        return res.accepting;
      },
      end(chunk?: string) {
        res.ended = chunk ?? '';
        return res;
      },
      destroy() {
        res.destroyed = true;
        res.emit('close');
      },
    });
    return res;
  }

  /** A gateway whose stream yields `deltas` text deltas and counts how many of them were pulled. */
  function fakeGateway(deltas: number) {
    const seen = { pulled: 0, returned: false };
    const completion = { id: 'cmpl_1', attempts: [], message: { role: 'assistant', content: '', toolCalls: [] }, finishReason: 'stop', usage: { inputTokens: 1, outputTokens: deltas, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } };
    async function* stream(): AsyncGenerator<CompletionEvent> {
      try {
        yield { type: 'start', id: 'cmpl_1', route: 'default', routeVersion: 1, provider: 'p', model: 'm' };
        for (let i = 0; i < deltas; i++) {
          seen.pulled++;
          yield { type: 'text-delta', text: `t${i} ` };
        }
        yield { type: 'done', completion: completion as unknown as Completion };
      } finally {
        seen.returned = true;
      }
    }
    // `prepare`: the REST handler reads the stages' findings (cache status, rate limits) from the request's context.
    return { gateway: { stream, prepare: (r: StoreRequest) => new RequestContext(r) } as unknown as Gateway, seen };
  }

  function run(res: ReturnType<typeof fakeResponse>, gateway: Gateway): Promise<void> {
    const ctx = { req: { headers: {} }, res, requestId: 'r1', principal: { scope: 'admin', name: 'ops' }, signal: new AbortController().signal };
    const body = { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] };
    return chatCompletions(ctx as unknown as RestContext, body, gateway, { catalog: { provider: () => undefined } as unknown as Services['catalog'] });
  }

  it('pulls no further delta until the response drains, then finishes', async () => {
    const res = fakeResponse();
    const { gateway, seen } = fakeGateway(100);
    const done = run(res, gateway);
    await settle();
    // The first delta filled the buffer: nothing more is pulled, however long we wait.
    expect(seen.pulled).toBe(1);
    expect(res.writes).toHaveLength(1);
    res.emit('drain');
    await settle();
    expect(seen.pulled).toBe(2);
    res.accepting = true;
    res.emit('drain');
    await done;
    expect(seen.pulled).toBe(100);
    expect(res.writes).toHaveLength(100);
    expect(res.ended).toContain('data: [DONE]');
  });

  it('stops pulling, and lets the upstream go, when the client leaves while the buffer is full', async () => {
    const res = fakeResponse();
    const { gateway, seen } = fakeGateway(100);
    const done = run(res, gateway);
    await settle();
    expect(seen.pulled).toBe(1);
    res.destroy();
    await done;
    expect(seen.pulled).toBe(1);
    expect(seen.returned).toBe(true);
    expect(res.ended).toBeUndefined();
    expect(res.listenerCount('drain') + res.listenerCount('close')).toBe(0);
  });
});

describe('end to end: a client that stops reading a very long stream', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack((c) => {
      c.keys = [{ key: ADMIN, name: 'ops', scope: 'admin' }];
    });
    // One ~13 KB content frame (2,000 words), sent 5,000 times over: a reply of about 65 MB.
    stack.sims.openai.setFaults({ replyWords: 2_000, chunkCount: 1, repeatChunks: 5_000 });
  });
  afterAll(() => stack?.close());

  it('the gateway stops pulling while the client is paused, buffers little, and delivers everything after', async () => {
    const sim = stack.sims.openai;
    const gatewayResponses: ServerResponse[] = [];
    stack.app.server.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/v1/chat/completions') gatewayResponses.push(res);
    });
    const req = request(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    });
    req.end(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'a long story please' }] }));
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    expect(res.statusCode).toBe(200);

    // Read a little (64 KiB), then stop reading.
    let received = 0;
    let tail = '';
    let holding = true;
    res.on('data', (chunk: Buffer) => {
      received += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-64);
      if (holding && received >= 64 * 1024) res.pause();
    });
    const ended = once(res, 'end');

    // Wait (polls, capped) until the simulator has written nothing more for 5 polls in a row: every
    // buffer between it and the client is full. Without backpressure it only stops at the reply's end.
    let last = -1;
    let still = 0;
    for (let i = 0; i < 200 && still < 5; i++) {
      await new Promise((ok) => setTimeout(ok, 50));
      const now = sim.stats.streamedBytes;
      still = now === last ? still + 1 : 0;
      last = now;
    }
    expect(still).toBe(5);
    const whilePaused = sim.stats.streamedBytes;
    const gatewayBuffered = gatewayResponses[0]!.writableLength;
    expect(received).toBeLessThan(1024 * 1024);

    holding = false;
    res.resume();
    await ended;
    const total = sim.stats.streamedBytes;
    expect(total).toBeGreaterThan(60_000_000);
    expect(tail).toContain('data: [DONE]');
    expect(received).toBeGreaterThan(total * 0.9);
    // While paused: what the kernel's socket buffers hold on both legs (a few MB on loopback), far from
    // the whole reply; and in the gateway's own memory at most the response's high-water mark and a frame.
    expect(whilePaused).toBeLessThan(total / 2);
    expect(gatewayBuffered).toBeLessThan(256 * 1024);
  });
});
