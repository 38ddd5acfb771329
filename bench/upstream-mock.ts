/**
 * The benchmark's upstream: an instant OpenAI Chat Completions endpoint on loopback.
 *
 *   node bench/upstream-mock.ts [--port 0] [--chunks 64] [--interval-ms 20]
 *
 * POST /v1/chat/completions (and /chat/completions):
 * - non-streaming: a fixed, small chat.completion JSON, answered as soon as the body is read;
 * - `stream: true`: the first chunk at once, then one chunk every --interval-ms (64 content chunks in all),
 *   a usage chunk when `stream_options.include_usage` is set, then `data: [DONE]`;
 * - model `fail-503`: a 503 with an OpenAI error envelope (the fallback scenario's failing primary).
 * Plain node:http, keep-alive, noDelay, no logic beyond that; it prints `{"port":N}` on stdout when ready.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { serveOnLoopback } from './lib/loopback-server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    chunks: { type: 'string', default: '64' },
    'interval-ms': { type: 'string', default: '20' },
  },
});
const CHUNKS = Number(values.chunks);
const INTERVAL_MS = Number(values['interval-ms']);
const CREATED = 1_700_000_000;

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: CREATED,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } },
  system_fingerprint: 'fp_bench',
});
const COMPLETION_HEADERS = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(COMPLETION)) };

const FAIL = JSON.stringify({ error: { message: 'The server is overloaded or not ready yet.', type: 'server_error', param: null, code: null } });
const FAIL_HEADERS = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(FAIL)) };

const NOT_FOUND = JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', param: null, code: 'unknown_url' } });

function chunk(delta: Record<string, unknown>, finish: string | null): string {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'gpt-4o-mini-2024-07-18',
    system_fingerprint: 'fp_bench',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  })}\n\n`;
}
// Precomputed: the stream is the same every time.
const FIRST = chunk({ role: 'assistant', content: 'Hello' }, null);
const MIDDLE = chunk({ content: ' token' }, null);
const LAST = chunk({ content: '.' }, 'stop');
const USAGE = `data: ${JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [],
  usage: { prompt_tokens: 9, completion_tokens: CHUNKS, total_tokens: 9 + CHUNKS },
})}\n\n`;
const DONE = 'data: [DONE]\n\n';

function stream(res: ServerResponse, includeUsage: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(FIRST);
  let sent = 1;
  if (sent >= CHUNKS) return finish();
  const timer = setInterval(() => {
    sent++;
    if (sent < CHUNKS) {
      res.write(MIDDLE);
      return;
    }
    clearInterval(timer);
    res.write(LAST);
    finish();
  }, INTERVAL_MS);
  res.once('close', () => clearInterval(timer));
  function finish(): void {
    res.end(includeUsage ? USAGE + DONE : DONE);
  }
}

function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (req.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/chat/completions')) {
    res.writeHead(404, { 'content-type': 'application/json' }).end(NOT_FOUND);
    return;
  }
  // Cheap checks rather than a full parse of every body: the benchmark's bodies are small and known.
  let parsed: { model?: string; stream?: boolean; stream_options?: { include_usage?: boolean } };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"invalid JSON","type":"invalid_request_error"}}');
    return;
  }
  if (parsed.model === 'fail-503') {
    res.writeHead(503, FAIL_HEADERS).end(FAIL);
    return;
  }
  if (parsed.stream === true) {
    stream(res, parsed.stream_options?.include_usage === true);
    return;
  }
  res.writeHead(200, COMPLETION_HEADERS).end(COMPLETION);
}

serveOnLoopback(Number(values.port), (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => handle(req, res, chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString()));
});
