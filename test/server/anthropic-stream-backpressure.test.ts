/**
 * The `/v1/messages` stream loop honours backpressure as REST's does: with the response buffer full it
 * pulls no further delta until 'drain', and lets the upstream go when the client leaves.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Completion, CompletionEvent } from '../../src/core/index.ts';
import type { StoreRequest } from '../../src/gateway/gateway-request.ts';
import type { Gateway } from '../../src/gateway/services.ts';
import { RequestContext } from '../../src/gateway/request-context.ts';
import { createMessagesRoutes } from '../../src/server/anthropic-compat/messages-routes.ts';
import { createStreamShutdown } from '../../src/server/stream-shutdown.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((ok) => setImmediate(ok));
}

/** A ServerResponse stand-in: `write` answers `accepting`; 'drain' and 'close' are emitted by the test. */
function fakeResponse() {
  const res = Object.assign(new EventEmitter(), {
    accepting: false,
    headersSent: false,
    destroyed: false,
    writableFinished: false,
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
      res.writableFinished = true;
      return res;
    },
    destroy() {
      res.destroyed = true;
      res.emit('close');
    },
  });
  return res;
}

function fakeGateway(deltas: number) {
  const seen = { pulled: 0, returned: false };
  const usage = { inputTokens: 1, outputTokens: deltas, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
  const completion = { id: 'cmpl_1', attempts: [], finishReason: 'stop', usage, message: { role: 'assistant', content: '', toolCalls: [] } };
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
  return { gateway: { stream, prepare: (r: StoreRequest) => new RequestContext(r) } as unknown as Gateway, seen };
}

function run(res: ReturnType<typeof fakeResponse>, gateway: Gateway): Promise<void> {
  const routes = createMessagesRoutes({
    gateway,
    auth: { localMode: true, resolve: async () => ({ scope: 'admin', name: 'local' }) },
    readJson: async () => ({ model: 'm', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    shutdown: createStreamShutdown(),
    openStreams: new Set(),
    logger: createLogger({ level: 'silent' }),
  });
  const req = { method: 'POST', headers: {} } as unknown as IncomingMessage;
  return routes.handle(req, res as unknown as ServerResponse, 'r1', '/v1/messages');
}

describe('the Messages stream loop honours backpressure', () => {
  it('pulls no further delta until the response drains, then finishes with message_stop', async () => {
    const res = fakeResponse();
    const { gateway, seen } = fakeGateway(100);
    const done = run(res, gateway);
    await settle();
    expect(seen.pulled).toBe(1);
    expect(res.writes).toHaveLength(1);
    expect(res.writes[0]).toMatch(/^event: message_start\n[\s\S]*event: ping\n[\s\S]*event: content_block_start\n[\s\S]*event: content_block_delta\n/);
    res.emit('drain');
    await settle();
    expect(seen.pulled).toBe(2);
    res.accepting = true;
    res.emit('drain');
    await done;
    expect(seen.pulled).toBe(100);
    expect(res.writes).toHaveLength(100);
    expect(res.ended).toMatch(/event: content_block_stop\n[\s\S]*event: message_delta\n[\s\S]*event: message_stop\n/);
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
  });
});
