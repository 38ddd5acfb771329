/**
 * A tiny OpenAI-protocol upstream on loopback that misbehaves in ways the simulators do not: which way is
 * chosen by the request's `model`, for streamed and non-streamed requests alike.
 *
 * - `garbage-json`: 200 with a body that is not JSON (streamed: SSE frames that are not JSON);
 * - `wrong-types`: 200 with well-formed JSON of the wrong shape (`choices: "nope"`, usage as strings);
 * - `truncated`: a body cut short (content-length promised, fewer bytes sent); streamed: three content
 *   chunks, then the response ends cleanly with no finish_reason and no [DONE];
 * - `endless`: headers, then bytes forever (streamed: a content chunk every 20 ms; else a space every 200 ms);
 * - `invalid-utf8`: raw bytes that are not UTF-8 inside the content strings, and a valid multi-byte
 *   character split across two writes;
 * - `tcp-reset`: the socket reset (RST) before any response, or after two streamed chunks;
 * - `huge-body`: a 10 MB answer (one 10 MB content string, or 10 MB of 1 KB content chunks);
 * - `hang`: accept the request and never answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const EVIL_MODELS = ['garbage-json', 'wrong-types', 'truncated', 'endless', 'invalid-utf8', 'tcp-reset', 'huge-body', 'hang'] as const;
export type EvilModel = (typeof EVIL_MODELS)[number];

export interface EvilUpstream {
  url: string;
  /** Requests received per model. */
  requests: Record<string, number>;
  /** Answers still open (a gateway that gave up on an endless or hung answer must have closed its request). */
  inFlight(): number;
  close(): Promise<void>;
}

const HUGE_BYTES = 10 * 1024 * 1024;

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-evil', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'evil', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

const completion = (content: string) =>
  JSON.stringify({
    id: 'chatcmpl-evil',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'evil',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
  });

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

function reset(socket: Socket): void {
  // RST rather than FIN: what a crashed peer or a middlebox looks like.
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** Writes `parts` one after another, waiting for drain, then calls `done` (unless the client went away). */
function writeAll(res: ServerResponse, parts: Iterable<string | Buffer>, done: () => void): void {
  const it = parts[Symbol.iterator]();
  const pump = () => {
    for (;;) {
      if (res.destroyed) return;
      const n = it.next();
      if (n.done) return done();
      if (!res.write(n.value)) return void res.once('drain', pump);
    }
  };
  pump();
}

function* hugeChunks(): Generator<string> {
  const text = 'x'.repeat(1024);
  for (let sent = 0; sent < HUGE_BYTES; sent += text.length) yield chunk({ content: text });
}

function serve(model: string, stream: boolean, req: IncomingMessage, res: ServerResponse, timers: Set<NodeJS.Timeout>): void {
  const every = (ms: number, fn: () => void) => {
    const t = setInterval(() => (res.destroyed ? (clearInterval(t), timers.delete(t)) : fn()), ms);
    timers.add(t);
    res.once('close', () => {
      clearInterval(t);
      timers.delete(t);
    });
  };
  switch (model as EvilModel) {
    case 'garbage-json':
      if (stream) res.writeHead(200, SSE_HEADERS).end('data: {"id": "chatcmpl-evil", "choices": [{"delta": {"content": "hi"\n\ndata: <html>502 Bad Gateway</html>\n\ndata: [DONE]\n\n');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"chatcmpl-evil","choices":[{"index":0,"mess<html>oops</html>');
      return;
    case 'wrong-types':
      if (stream) res.writeHead(200, SSE_HEADERS).end(`data: ${JSON.stringify({ id: 5, choices: 'nope', usage: { prompt_tokens: 'many' } })}\n\ndata: [DONE]\n\n`);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 5, object: 'chat.completion', choices: 'nope', usage: { prompt_tokens: 'many' } }));
      return;
    case 'truncated':
      if (stream) {
        res.writeHead(200, SSE_HEADERS);
        res.end([chunk({ role: 'assistant', content: 'one' }), chunk({ content: ' two' }), chunk({ content: ' three' })].join(''));
      } else {
        const full = completion('this answer will be cut short');
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(full)) });
        res.write(full.slice(0, 60));
        // Close without the rest: the client is owed more bytes than it got.
        setTimeout(() => res.socket?.destroy(), 20);
      }
      return;
    case 'endless':
      if (stream) {
        res.writeHead(200, SSE_HEADERS);
        res.write(chunk({ role: 'assistant', content: 'and' }));
        every(20, () => res.write(chunk({ content: ' on' })));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":"chatcmpl-evil",');
        every(200, () => res.write(' '));
      }
      return;
    case 'invalid-utf8': {
      // 0xff and 0xfe never occur in UTF-8; 0xc3 0x28 is a broken two-byte sequence; 0xed 0xa0 0x80 a UTF-8-encoded lone surrogate.
      const bad = Buffer.from([0xff, 0xfe, 0x20, 0xc3, 0x28, 0x20, 0xed, 0xa0, 0x80]);
      const eAcute = Buffer.from('é', 'utf8');
      if (stream) {
        res.writeHead(200, SSE_HEADERS);
        const pre = Buffer.from(chunk({ role: 'assistant', content: 'start ' }));
        const [open, close] = chunk({ content: 'BAD' }).split('BAD') as [string, string];
        const [open2, close2] = chunk({ content: 'caf#' }).split('#') as [string, string];
        const parts = [pre, Buffer.concat([Buffer.from(open), bad, Buffer.from(close)]), Buffer.concat([Buffer.from(open2), eAcute.subarray(0, 1)]), Buffer.concat([eAcute.subarray(1), Buffer.from(close2)]), Buffer.from(chunk({}, 'stop')), Buffer.from('data: [DONE]\n\n')];
        let i = 0;
        // Separate writes a few ms apart, so the split character really arrives in two reads.
        every(5, () => {
          if (i < parts.length) res.write(parts[i++]);
          else res.end();
        });
      } else {
        const [open, close] = completion('BAD').split('BAD') as [string, string];
        const body = Buffer.concat([Buffer.from(open), bad, eAcute, Buffer.from(close)]);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
      }
      return;
    }
    case 'tcp-reset':
      if (stream) {
        res.writeHead(200, SSE_HEADERS);
        res.write(chunk({ role: 'assistant', content: 'one' }));
        res.write(chunk({ content: ' two' }));
        setTimeout(() => res.socket && reset(res.socket), 30);
      } else {
        reset(req.socket);
      }
      return;
    case 'huge-body':
      if (stream) {
        res.writeHead(200, SSE_HEADERS);
        writeAll(res, [chunk({ role: 'assistant', content: '' }), ...hugeChunks(), chunk({}, 'stop'), 'data: [DONE]\n\n'], () => res.end());
      } else {
        const body = completion('y'.repeat(HUGE_BYTES));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body);
      }
      return;
    case 'hang':
      return;
    default:
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `unknown model ${model}`, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } }));
  }
}

export async function startEvilUpstream(): Promise<EvilUpstream> {
  const requests: Record<string, number> = {};
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  const server: Server = createServer({ keepAlive: true, requestTimeout: 0, headersTimeout: 0 }, (req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { model?: string; stream?: boolean } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString()) as typeof body;
      } catch {
        // answered as an unknown model below
      }
      const model = String(body.model ?? '');
      requests[model] = (requests[model] ?? 0) + 1;
      serve(model, body.stream === true, req, res, timers);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inFlight: () => inFlight,
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
