import { createHash, randomBytes } from 'node:crypto';
import type { ErrorResponse, ProtocolSimulator, SimContext, SimErrorKind, SimRequest } from './protocol.ts';
import { chunkText, countTokens, planReply, type ReplyInput, type ToolOffer, embeddingOf, applyStop } from './reply.ts';

/**
 * Ollama's native API, written from the wire reference (shared/provider-protocols/ollama.md), independent of
 * the adapter in src/providers.
 *
 * Routes: `POST /api/chat` (NDJSON stream by default, one JSON object with `stream: false`), `POST /api/embed`,
 * `GET /api/tags`, `GET /api/version`, and `GET /` / `HEAD /` ("Ollama is running").
 *
 * Simulator conventions:
 * - Input tokens (`prompt_eval_count`): 3 + Σ per message (4 + countTokens(content + tool calls)) +
 *   countTokens(JSON of the tool definitions), the same formula as the OpenAI simulator.
 * - Durations are nanoseconds derived from the token counts (a fake ~80 tokens/s), with `total_duration` at least
 *   the real wall time; metric fields are omitted when zero, as Ollama's `omitempty` does.
 * - No prompt caching: Ollama reports no cached-token fields.
 * - Context overflow: real Ollama truncates old messages silently to fit `num_ctx`. Only when
 *   `faults.maxInputTokens` is set does this simulator reject longer prompts, with a 400 whose text mentions the
 *   context length — a simulator fault, NOT real Ollama behaviour. (`/api/embed` follows the real server: with
 *   `truncate: false` it answers 400 `the input length exceeds the context length`, otherwise it truncates.)
 * - A chat request without messages is a model load, as on the real server: `done_reason: "load"`.
 */

const DEFAULT_EMBEDDING_DIMS = 768;
const MAX_EMBEDDING_DIMS = 4096;
const MID_STREAM_ERROR = 'an error was encountered while running the model';

const MODELS: Array<{ name: string; family: string; parameterSize: string; size: number }> = [
  { name: 'llama3.2:latest', family: 'llama', parameterSize: '3.2B', size: 2_019_393_189 },
  { name: 'llama3.1:8b', family: 'llama', parameterSize: '8.0B', size: 4_920_753_328 },
  { name: 'qwen2.5:7b', family: 'qwen2', parameterSize: '7.6B', size: 4_683_087_332 },
  { name: 'nomic-embed-text:latest', family: 'nomic-bert', parameterSize: '137M', size: 274_302_450 },
  { name: 'all-minilm:latest', family: 'bert', parameterSize: '23M', size: 45_960_996 },
];

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const JSON_TYPE = 'application/json; charset=utf-8';

// ---------------------------------------------------------------------------------------------------------------
// Errors

function errorOf(status: number, message: string, retryAfterS?: number): ErrorResponse {
  const headers: Record<string, string> = { 'content-type': JSON_TYPE };
  if (retryAfterS !== undefined && (status === 429 || status === 503 || status === 529)) headers['retry-after'] = String(Math.ceil(retryAfterS));
  return { status, headers, body: JSON.stringify({ error: message }) };
}

function errorResponse(status: number, message: string, kind: SimErrorKind, retryAfterS?: number): ErrorResponse {
  switch (kind) {
    case 'not_found':
      // Unknown routes are gin's plain-text 404, as on the real server.
      if (message.startsWith('no route for ')) return { status, headers: { 'content-type': 'text/plain' }, body: '404 page not found' };
      return errorOf(status, message, retryAfterS);
    case 'overloaded':
      return errorOf(status, status === 503 ? 'server busy, please try again.  maximum pending requests exceeded' : message, retryAfterS);
    case 'auth':
      return errorOf(status, status === 401 ? 'unauthorized' : message, retryAfterS);
    default:
      return errorOf(status, message, retryAfterS);
  }
}

function send(ctx: SimContext, status: number, message: string): void {
  const e = errorOf(status, message);
  if (!ctx.res.headersSent) ctx.res.writeHead(e.status, e.headers).end(e.body);
}

function modelNotFound(ctx: SimContext, model: string): void {
  send(ctx, 404, `model ${JSON.stringify(model)} not found, try pulling it first`);
}

// ---------------------------------------------------------------------------------------------------------------
// Wire helpers

/** RFC 3339 with sub-millisecond digits, like Go's time.Time JSON (`2023-12-12T14:13:43.416799Z`). */
function createdAt(): string {
  const iso = new Date().toISOString();
  const sub = String(process.hrtime.bigint() % 1_000_000n).padStart(6, '0').replace(/0+$/, '');
  return iso.replace('Z', `${sub}Z`);
}

/** Metrics in nanoseconds; zero-valued fields are left out (`omitempty`). */
function metrics(startedAt: bigint, promptTokens: number, evalTokens: number): Json {
  const load = 1_000_000 + (promptTokens % 997) * 1_000;
  const promptEval = promptTokens * 250_000;
  const evalDuration = evalTokens * 12_500_000;
  const wall = Number(process.hrtime.bigint() - startedAt);
  const out: Json = {
    total_duration: Math.max(wall, load + promptEval + evalDuration),
    load_duration: load,
    prompt_eval_count: promptTokens,
    prompt_eval_duration: promptEval,
    eval_count: evalTokens,
    eval_duration: evalDuration,
  };
  for (const k of Object.keys(out)) if (out[k] === 0) delete out[k];
  return out;
}

function digestOf(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

// ---------------------------------------------------------------------------------------------------------------
// Chat

function messageTokens(m: Json): number {
  let text = typeof m.content === 'string' ? m.content : '';
  if (Array.isArray(m.tool_calls)) {
    for (const c of m.tool_calls) {
      if (isObject(c) && isObject(c.function)) text += ` ${String(c.function.name ?? '')} ${JSON.stringify(c.function.arguments ?? {})}`;
    }
  }
  return 4 + countTokens(text);
}

async function chat(ctx: SimContext, startedAt: bigint): Promise<void> {
  const body = ctx.req.body;
  if (body === undefined) return send(ctx, 400, 'missing request body');
  if (!isObject(body)) return send(ctx, 400, 'json: cannot unmarshal into Go value of type api.ChatRequest');
  if (typeof body.model !== 'string' || body.model === '') return send(ctx, 400, 'model is required');
  const model = body.model;
  if (body.messages !== undefined && body.messages !== null && !Array.isArray(body.messages)) {
    return send(ctx, 400, 'json: cannot unmarshal into Go struct field ChatRequest.messages of type []api.Message');
  }
  const messages = ((body.messages ?? []) as unknown[]).filter(isObject);
  const options = isObject(body.options) ? body.options : {};
  if (typeof body.top_logprobs === 'number' && (body.top_logprobs < 0 || body.top_logprobs > 20)) {
    return send(ctx, 400, 'top_logprobs must be between 0 and 20');
  }
  if (model.startsWith('missing-')) return modelNotFound(ctx, model);

  const stream = body.stream !== false; // Ollama streams unless told not to
  const headers = { 'content-type': JSON_TYPE };
  if (messages.length === 0) {
    // An empty chat loads the model and answers at once, even when streaming.
    ctx.sendJson(200, { model, created_at: createdAt(), message: { role: 'assistant', content: '' }, done_reason: 'load', done: true }, headers);
    return;
  }

  const tools: ToolOffer[] = [];
  const toolDefs: unknown[] = [];
  if (Array.isArray(body.tools)) {
    for (const t of body.tools) {
      if (isObject(t) && isObject(t.function) && typeof t.function.name === 'string') {
        tools.push({ name: t.function.name, parameters: isObject(t.function.parameters) ? t.function.parameters : undefined });
        toolDefs.push(t.function);
      }
    }
  }
  let json: ReplyInput['json'];
  if (body.format === 'json') json = 'json';
  else if (isObject(body.format)) json = body.format;
  const numPredict = typeof options.num_predict === 'number' && options.num_predict >= 0 ? options.num_predict : undefined;
  const stop = Array.isArray(options.stop) ? options.stop.filter((s): s is string => typeof s === 'string' && s !== '') : [];

  const promptTokens = 3 + (toolDefs.length > 0 ? countTokens(JSON.stringify(toolDefs)) : 0) + messages.reduce((n, m) => n + messageTokens(m), 0);
  const max = ctx.faults.maxInputTokens;
  if (max !== undefined && promptTokens > max) {
    // Simulator fault only: real Ollama truncates the history silently instead.
    return send(ctx, 400, `the input length exceeds the context length (${promptTokens} tokens > num_ctx ${max})`);
  }

  const last = messages[messages.length - 1]!;
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const plan = applyStop(
    planReply({
      prompt: lastUser && typeof lastUser.content === 'string' ? lastUser.content : '',
      toolResult: last.role === 'tool' ? String(last.content ?? '') : undefined,
      tools,
      json,
      maxTokens: numPredict,
      replyWords: ctx.faults.replyWords,
    }),
    stop,
  );
  const doneReason = plan.finish === 'length' ? 'length' : 'stop'; // Ollama says "stop" after tool calls too
  const toolCalls = plan.toolCalls.map((c, index) => ({
    id: `call_${randomBytes(4).toString('hex')}`,
    function: { index, name: c.name, arguments: c.arguments },
  }));

  if (!stream) {
    const message: Json = { role: 'assistant', content: plan.text };
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    ctx.sendJson(200, { model, created_at: createdAt(), message, done_reason: doneReason, done: true, ...metrics(startedAt, promptTokens, plan.outputTokens) }, headers);
    return;
  }

  // An error before the first line is an ordinary error response, as on the real server.
  if (ctx.faults.errorAfterChunks === 0) return send(ctx, 500, MID_STREAM_ERROR);
  const writer = ctx.stream();
  writer.begin({ 'content-type': 'application/x-ndjson' });
  const line = (obj: Json) => `${JSON.stringify(obj)}\n`;
  const midStreamError = async () => {
    await writer.write(line({ error: MID_STREAM_ERROR }));
    writer.end();
  };
  const content = async (message: Json): Promise<boolean> => {
    if (!(await writer.write(line({ model, created_at: createdAt(), message, done: false }), true))) return false;
    if (writer.errorDue) {
      await midStreamError();
      return false;
    }
    return true;
  };

  if (toolCalls.length > 0) {
    // Tool calls arrive whole, all in one line.
    if (!(await content({ role: 'assistant', content: '', tool_calls: toolCalls }))) return;
  } else {
    for (const piece of chunkText(plan.text, ctx.faults.chunkCount)) {
      if (!(await content({ role: 'assistant', content: piece }))) return;
    }
  }
  if (!ctx.faults.omitEndMarker) {
    const final = { model, created_at: createdAt(), message: { role: 'assistant', content: '' }, done_reason: doneReason, done: true, ...metrics(startedAt, promptTokens, plan.outputTokens) };
    if (!(await writer.write(line(final)))) return;
  }
  writer.end();
}

// ---------------------------------------------------------------------------------------------------------------
// Embeddings

function defaultDims(model: string): number {
  if (model.includes('minilm')) return 384;
  if (model.includes('mxbai') || model.includes('large')) return 1024;
  return DEFAULT_EMBEDDING_DIMS;
}

function embed(ctx: SimContext, startedAt: bigint): void {
  const body = ctx.req.body;
  if (body === undefined) return send(ctx, 400, 'missing request body');
  if (!isObject(body)) return send(ctx, 400, 'json: cannot unmarshal into Go value of type api.EmbedRequest');
  if (typeof body.model !== 'string' || body.model === '') return send(ctx, 400, 'model is required');
  const model = body.model;
  let inputs: string[];
  if (body.input === undefined || body.input === null) inputs = [];
  else if (typeof body.input === 'string') inputs = body.input === '' ? [] : [body.input];
  else if (Array.isArray(body.input) && body.input.every((x) => typeof x === 'string')) inputs = body.input as string[];
  else return send(ctx, 400, 'invalid input type');
  let dims = defaultDims(model);
  if (body.dimensions !== undefined && body.dimensions !== null && body.dimensions !== 0) {
    if (typeof body.dimensions !== 'number' || !Number.isInteger(body.dimensions) || body.dimensions < 1 || body.dimensions > MAX_EMBEDDING_DIMS) {
      return send(ctx, 400, `invalid dimensions: must be between 1 and ${MAX_EMBEDDING_DIMS}`);
    }
    dims = body.dimensions;
  }
  if (model.startsWith('missing-')) return modelNotFound(ctx, model);
  if (inputs.length === 0) {
    ctx.sendJson(200, { model, embeddings: [] }, { 'content-type': JSON_TYPE });
    return;
  }
  const max = ctx.faults.maxInputTokens;
  let total = 0;
  for (const input of inputs) {
    const n = countTokens(input);
    if (max !== undefined && n > max) {
      if (body.truncate === false) return send(ctx, 400, 'the input length exceeds the context length');
      total += max; // truncated to the context, as the real server does by default
    } else total += n;
  }
  const m = metrics(startedAt, total, 0);
  ctx.sendJson(
    200,
    { model, embeddings: inputs.map((i) => embeddingOf(i, dims)), total_duration: m.total_duration, load_duration: m.load_duration, prompt_eval_count: total },
    { 'content-type': JSON_TYPE },
  );
}

// ---------------------------------------------------------------------------------------------------------------

function tags(ctx: SimContext): void {
  const models = MODELS.map((m) => ({
    name: m.name,
    model: m.name,
    modified_at: '2025-06-01T12:00:00.000000Z',
    size: m.size,
    digest: digestOf(m.name),
    details: { parent_model: '', format: 'gguf', family: m.family, families: [m.family], parameter_size: m.parameterSize, quantization_level: 'Q4_K_M' },
  }));
  ctx.sendJson(200, { models }, { 'content-type': JSON_TYPE });
}

async function handle(ctx: SimContext): Promise<boolean> {
  const startedAt = process.hrtime.bigint();
  const { method, path } = ctx.req;
  if (method === 'POST' && path === '/api/chat') {
    await chat(ctx, startedAt);
    return true;
  }
  if (method === 'POST' && path === '/api/embed') {
    embed(ctx, startedAt);
    return true;
  }
  if (method === 'GET' && path === '/api/tags') {
    tags(ctx);
    return true;
  }
  if (method === 'GET' && path === '/api/version') {
    ctx.sendJson(200, { version: '0.12.6' }, { 'content-type': JSON_TYPE });
    return true;
  }
  if ((method === 'GET' || method === 'HEAD') && path === '/') {
    ctx.res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(method === 'HEAD' ? undefined : 'Ollama is running');
    return true;
  }
  return false;
}

/** A local server has no auth; ollama.com's cloud API takes `Authorization: Bearer`. */
function apiKeyOf(req: SimRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
  return m ? m[1] : undefined;
}

export const ollamaSimulator: ProtocolSimulator = {
  protocol: 'ollama',
  handle,
  errorResponse,
  apiKeyOf,
};
