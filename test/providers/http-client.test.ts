import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/core/index.ts';
import { createHttpClient, type HttpClient } from '../../src/providers/shared/http-client.ts';

/** A loopback server whose handler each test sets; it records how each request's response ended. */
async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const ended: Array<'finished' | 'closed early'> = [];
  const server: Server = createServer((req, res) => {
    res.on('close', () => ended.push(res.writableFinished ? 'finished' : 'closed early'));
    handler(req, res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1`, server, ended };
}

const timeouts = { connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, totalMs: 5_000, firstTokenMs: 2_000 };
const until = async (cond: () => boolean, ms = 2_000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

let cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(handler: (req: IncomingMessage, res: ServerResponse) => void, opts: Partial<typeof timeouts> = {}) {
  const s = await startServer(handler);
  const client: HttpClient = createHttpClient({ baseUrl: s.url, provider: 'p', timeouts: { ...timeouts, ...opts } });
  cleanup.push(() => new Promise((ok) => s.server.close(ok)), () => s.server.closeAllConnections(), () => client.close());
  return { ...s, client };
}

describe('http client (undici dispatch)', () => {
  it('sends the JSON body with its path prefix and reads the whole reply, also a character split across chunks', async () => {
    let seen: { url?: string; body?: string; type?: string } = {};
    const { client } = await setup((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen = { url: req.url, body, type: req.headers['content-type'] };
        const bytes = Buffer.from('{"text":"héllo"}');
        res.writeHead(201, { 'x-request-id': 'up-1' });
        // "é" is two bytes: end the first chunk between them.
        res.write(bytes.subarray(0, 11));
        setTimeout(() => res.end(bytes.subarray(11)), 10);
      });
    });
    const res = await client.request({ path: '/chat/completions', json: { a: 1 } });
    expect(res.status).toBe(201);
    expect(res.headers['x-request-id']).toBe('up-1');
    expect(await res.text()).toBe('{"text":"héllo"}');
    expect(seen).toEqual({ url: '/v1/chat/completions', body: '{"a":1}', type: 'application/json' });
  });

  it('a long body read whole (decoded as it arrives) is the same text as the bytes decoded at once', async () => {
    // A BOM, 2-, 3- and 4-byte characters and an invalid byte, written in odd-sized pieces so characters split.
    const unit = Buffer.concat([Buffer.from('{"a":"héllo €uro 😀 '), Buffer.from([0xff]), Buffer.from('"}\n')]);
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), ...Array.from({ length: 40_000 }, () => unit)]);
    expect(body.length).toBeGreaterThan(1024 * 1024);
    const { client } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length) });
      let at = 0;
      const pump = () => {
        while (at < body.length) {
          const piece = body.subarray(at, at + 7_001);
          at += piece.length;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const now = await client.request({ path: '/long' });
    expect(await now.text()).toBe(body.toString('utf8'));
    // Read late: the socket paused at the high-water mark first (resuming it before the reader was registered
    // paused it again for good: the read hung), then the rest is decoded as it comes.
    const late = await client.request({ path: '/long' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await late.text()).toBe(body.toString('utf8'));
  });

  it('hands each chunk of a streamed body over as it arrives, not at the end', async () => {
    let finish: (() => void) | undefined;
    const { client } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      finish = () => res.end('data: 2\n\n');
    });
    const res = await client.request({ path: '/s', json: {} });
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    expect(String(first.value)).toBe('data: 1\n\n');
    finish!();
    const rest: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(String(r.value));
    expect(rest.join('')).toBe('data: 2\n\n');
  });

  it('a reader that breaks off closes the unfinished response upstream', async () => {
    const { client, ended } = await setup((_req, res) => {
      res.writeHead(200);
      res.write('a');
      const t = setInterval(() => res.write('b'), 10);
      res.on('close', () => clearInterval(t));
    });
    const res = await client.request({ path: '/s' });
    for await (const chunk of res.body) {
      expect(String(chunk)).toBe('a');
      break;
    }
    expect(res.body.destroyed).toBe(true);
    await until(() => ended.length === 1);
    expect(ended).toEqual(['closed early']);
  });

  it('a caller abort before the reply is a cancelled error, and reaches the server', async () => {
    const { client, ended } = await setup(() => {});
    const ac = new AbortController();
    const pending = client.request({ path: '/slow', json: {}, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).kind).toBe('cancelled');
    await until(() => ended.length === 1);
    expect(ended).toEqual(['closed early']);
  });

  it('an already aborted signal never sends the request', async () => {
    let requests = 0;
    const { client } = await setup((_req, res) => {
      requests++;
      res.end('{}');
    });
    const ac = new AbortController();
    ac.abort();
    await expect(client.request({ path: '/x', signal: ac.signal })).rejects.toMatchObject({ kind: 'cancelled' });
    await new Promise((r) => setTimeout(r, 50));
    expect(requests).toBe(0);
  });

  it('the total timeout mid-body aborts the read with a timeout error as the signal reason', async () => {
    const { client } = await setup((_req, res) => {
      res.writeHead(200);
      res.write('part');
    }, { totalMs: 150 });
    const res = await client.request({ path: '/s' });
    const err = await res.text().catch((e: unknown) => e);
    expect((err as GatewayError).kind).toBe('timeout');
    expect(res.signal.aborted).toBe(true);
    expect((res.signal.reason as GatewayError).kind).toBe('timeout');
  });

  it('a connection reset mid-body is invalid_response; a refused connection is unavailable', async () => {
    const { client } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('short');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const res = await client.request({ path: '/s' });
    await expect(res.text()).rejects.toMatchObject({ kind: 'invalid_response' });

    const refused = createHttpClient({ baseUrl: 'http://127.0.0.1:1/v1', provider: 'p', timeouts });
    cleanup.push(() => refused.close());
    await expect(refused.request({ path: '/x' })).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('a reader that does not keep up pauses the upstream socket (bounded buffering)', async () => {
    const total = 32 * 1024 * 1024;
    let written = 0;
    let done = false;
    const { client } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': String(total) });
      const chunk = Buffer.alloc(64 * 1024, 97);
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end(() => (done = true));
      };
      pump();
    });
    const res = await client.request({ path: '/big' });
    await new Promise((r) => setTimeout(r, 300));
    // Without backpressure the whole body would have been taken in by now.
    expect(done).toBe(false);
    expect(written).toBeLessThan(total);
    let read = 0;
    for await (const c of res.body) read += c.length;
    expect(read).toBe(total);
  });
});
