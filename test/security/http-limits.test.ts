import { connect, type Socket } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';
import { postChunked } from '../helpers/post-chunked.ts';

/** Bounds every wait on the server: a socket the server should close but does not fails the test here. */
const CAP_MS = 5_000;

let stack: Stack;
let port: number;
beforeAll(async () => {
  stack = await startStack((c) => ({
    ...c,
    server: { headersTimeoutMs: 300, bodyTimeoutMs: 600, maxConnections: 8, bodyLimitBytes: 64 * 1024 },
  }));
  port = Number(new URL(stack.url).port);
});
afterAll(() => stack.close());

interface Probe {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves true when the server closed the socket, false when CAP_MS passed first (the socket is then destroyed). */
  closed: Promise<boolean>;
}

function probe(): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', () => undefined);
    const closed = new Promise<boolean>((done) => {
      const cap = setTimeout(() => {
        done(false);
        socket.destroy();
      }, CAP_MS);
      socket.once('close', () => {
        clearTimeout(cap);
        done(true);
      });
    });
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

describe('HTTP server timeouts and connection cap', () => {
  it('closes a connection that trickles its headers and never finishes them (slowloris)', async () => {
    const p = await probe();
    p.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a');
    expect(await p.closed).toBe(true);
    expect(p.received()).toMatch(/^(HTTP\/1\.1 408|$)/);
  });

  it('closes a connection that never sends anything', async () => {
    const p = await probe();
    expect(await p.closed).toBe(true);
  });

  it('answers 408 or closes a chunked request body that never ends', async () => {
    const p = await probe();
    p.socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    // One byte every 50 ms keeps the connection busy but the body never completes.
    const drip = setInterval(() => {
      if (p.socket.writable) p.socket.write('1\r\n \r\n');
    }, 50);
    try {
      expect(await p.closed).toBe(true);
    } finally {
      clearInterval(drip);
    }
    expect(p.received()).toMatch(/^(HTTP\/1\.1 408|$)/);
  });

  it('does not cut a streamed response that lasts longer than the header and body timeouts', async () => {
    // About 1.2 s of tokens: twice bodyTimeoutMs, four times headersTimeoutMs.
    stack.sims.openai.setFaults({ chunkDelayMs: 60, replyWords: 20 });
    try {
      const openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'local', maxRetries: 0 });
      const stream = await openai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: 'a slow one' }] });
      let finish: string | null | undefined;
      let deltas = 0;
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) deltas++;
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(deltas).toBeGreaterThanOrEqual(10);
      expect(finish).toBe('stop');
    } finally {
      stack.sims.openai.setFaults({});
    }
  });

  it('refuses connections above server.maxConnections', async () => {
    const capped = await startStack((c) => ({ ...c, server: { maxConnections: 2 } }));
    const cappedPort = Number(new URL(capped.url).port);
    const open: Socket[] = [];
    try {
      // Two keep-alive connections that each got an answer: the server holds both.
      for (let i = 0; i < 2; i++) {
        const socket = connect(cappedPort, '127.0.0.1');
        open.push(socket);
        socket.setEncoding('latin1');
        socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        await new Promise<void>((ok) => socket.once('data', () => ok()));
      }
      const third = connect(cappedPort, '127.0.0.1');
      open.push(third);
      let answered = '';
      third.setEncoding('latin1');
      third.on('data', (d: string) => (answered += d));
      third.on('error', () => undefined);
      third.once('connect', () => third.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      const closed = await new Promise<boolean>((done) => {
        const cap = setTimeout(() => done(false), CAP_MS);
        third.once('close', () => {
          clearTimeout(cap);
          done(true);
        });
      });
      expect(closed).toBe(true);
      expect(answered).toBe('');
    } finally {
      for (const s of open) s.destroy();
      await capped.close();
    }
  });
});

describe('oversized chunked bodies', () => {
  it('reads a body that arrives in pieces (split inside a UTF-8 character), and the connection serves the next request', async () => {
    const p = await probe();
    const body = Buffer.from(JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'héllo wörld' }] }));
    const head = (n: number) => `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${n}\r\n\r\n`;
    const cut = body.indexOf(0xc3) + 1; // between the two bytes of "é"
    p.socket.write(head(body.length));
    p.socket.write(body.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 50));
    expect(p.received()).toBe(''); // nothing answered before the declared length arrived
    p.socket.write(body.subarray(cut));
    await expect.poll(() => p.received().match(/HTTP\/1\.1 200/g)?.length ?? 0, { timeout: CAP_MS }).toBe(1);
    p.socket.write(head(body.length) + body.toString('latin1'), 'latin1');
    await expect.poll(() => p.received().match(/HTTP\/1\.1 200/g)?.length ?? 0, { timeout: CAP_MS }).toBe(2);
    expect(p.received()).not.toContain('invalid_request');
    p.socket.destroy();
  });

  it('a 5 MiB chunked body to /v1 gets a 413 the client can read, not a connection reset', async () => {
    const res = await postChunked(port, '/v1/chat/completions', 5 * 1024 * 1024);
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
  });
});
