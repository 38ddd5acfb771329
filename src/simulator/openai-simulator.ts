import { createHash, randomBytes } from 'node:crypto';
import type { ErrorResponse, ProtocolSimulator, SimContext, SimErrorKind, SimRequest } from './protocol.ts';
import { echoedRequest } from './faults.ts';
import { chunkText, countTokens, fragment, planReply, type ReplyInput, type ToolOffer, embeddingOf, applyStop } from './reply.ts';

/**
 * OpenAI Chat Completions / Embeddings / Models, written from the wire reference
 * (shared/provider-protocols/openai.md), independent of the adapter in src/providers.
 *
 * Routes: `POST /v1/chat/completions` (also `/chat/completions` and Azure's
 * `/openai/deployments/{deployment}/chat/completions?api-version=…`), `POST /v1/embeddings` (same variants),
 * `GET /v1/models`, `GET /v1/models/{id}`.
 *
 * Simulator conventions (not all of them observable on the real API):
 * - Input tokens: 3 (reply priming) + Σ per message (4 + countTokens(message text incl. tool calls)) +
 *   countTokens(JSON of the tool definitions).
 * - Prompt caching is automatic, as on the real API: every message-boundary prefix of 1024+ tokens (tools +
 *   messages[0..k]) is remembered; when a request repeats a remembered prefix, `cached_tokens` is that prefix's
 *   token count rounded down to a multiple of 128 (the real cache's granularity). The first time is a plain miss
 *   (OpenAI reports no cache writes).
 * - `n` > 1 is not supported (one choice); `stop` cuts the reply at the first stop string.
 * - Azure requests get the same OpenAI bodies (no content-filter annotations) and the same error envelope.
 */

const CACHE_MIN_TOKENS = 1024;
const CACHE_GRANULARITY = 128;
const RATE_LIMIT_REQUESTS = 5000;
const RATE_LIMIT_TOKENS = 160_000;
const DEFAULT_EMBEDDING_DIMS = 1536;
const MAX_EMBEDDING_DIMS = 3072;

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-5', 'gpt-5-mini', 'o4-mini', 'text-embedding-3-small', 'text-embedding-3-large', 'text-embedding-ada-002'];

const CHAT_PATH = /^(?:\/v1)?\/chat\/completions\/?$/;
const EMBEDDINGS_PATH = /^(?:\/v1)?\/embeddings\/?$/;
const AZURE_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)\/?$/;
const MODELS_PATH = /^(?:\/v1)?\/models\/?$/;
const MODEL_PATH = /^(?:\/v1)?\/models\/(.+)$/;

const ROLES = ['system', 'assistant', 'user', 'function', 'tool', 'developer'];

// ---------------------------------------------------------------------------------------------------------------
// Wire helpers

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomId(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[bytes[i]! % 62];
  return out;
}

/** Header values used on every response. */
function baseHeaders(startedAt: number): Record<string, string> {
  return {
    'x-request-id': `req_${randomBytes(16).toString('hex')}`,
    'openai-version': '2020-10-01',
    'openai-organization': 'switchboard-simulator',
    'openai-processing-ms': String(Math.max(1, Math.round(performance.now() - startedAt))),
  };
}

function rateLimitHeaders(tokens: number): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': String(RATE_LIMIT_REQUESTS),
    'x-ratelimit-limit-tokens': String(RATE_LIMIT_TOKENS),
    'x-ratelimit-remaining-requests': String(RATE_LIMIT_REQUESTS - 1),
    'x-ratelimit-remaining-tokens': String(Math.max(0, RATE_LIMIT_TOKENS - tokens)),
    'x-ratelimit-reset-requests': '12ms',
    'x-ratelimit-reset-tokens': `${Math.max(1, Math.round((tokens / RATE_LIMIT_TOKENS) * 60_000))}ms`,
  };
}

/** A duration the way OpenAI writes it in rate-limit headers and messages: `174ms`, `1s`, `1.5s`. */
function duration(seconds: number): string {
  return seconds < 1 ? `${Math.round(seconds * 1000)}ms` : `${Number(seconds.toFixed(3))}s`;
}

interface ErrorShape {
  type: string;
  param: string | null;
  code: string | null;
}

function errorOf(status: number, message: string, shape: ErrorShape, retryAfterS?: number): ErrorResponse {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', ...baseHeaders(performance.now()) };
  if (status === 429) {
    Object.assign(headers, rateLimitHeaders(0), {
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': duration(retryAfterS ?? 1),
    });
  }
  if (retryAfterS !== undefined && (status === 429 || status === 503 || status === 529)) {
    // Retry-After is integer seconds; the SDKs also honour the finer retry-after-ms, sent when it adds precision.
    headers['retry-after'] = String(Math.ceil(retryAfterS));
    if (!Number.isInteger(retryAfterS)) headers['retry-after-ms'] = String(Math.round(retryAfterS * 1000));
  }
  return { status, headers, body: JSON.stringify({ error: { message, type: shape.type, param: shape.param, code: shape.code } }) };
}

function send(ctx: SimContext, e: ErrorResponse): void {
  if (!ctx.res.headersSent) ctx.res.writeHead(e.status, e.headers).end(e.body);
}

function badRequest(ctx: SimContext, message: string, param: string | null = null, code: string | null = null): void {
  send(ctx, errorOf(400, message, { type: 'invalid_request_error', param, code }));
}

function modelNotFound(ctx: SimContext, model: string): void {
  send(ctx, errorOf(404, `The model \`${model}\` does not exist or you do not have access to it.`, { type: 'invalid_request_error', param: null, code: 'model_not_found' }));
}

const NOT_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

function errorResponse(status: number, message: string, kind: SimErrorKind, retryAfterS?: number): ErrorResponse {
  switch (kind) {
    case 'rate_limit':
      return errorOf(
        status,
        `Rate limit reached for requests in organization org-simulator on requests per min (RPM): Limit ${RATE_LIMIT_REQUESTS}, Used ${RATE_LIMIT_REQUESTS}, Requested 1. Please try again in ${duration(retryAfterS ?? 1)}. Visit https://platform.openai.com/account/rate-limits to learn more.`,
        { type: 'requests', param: null, code: 'rate_limit_exceeded' },
        retryAfterS,
      );
    case 'auth':
      if (status === 403) {
        return errorOf(status, 'Country, region, or territory not supported', { type: 'request_forbidden', param: null, code: 'unsupported_country_region_territory' });
      }
      return errorOf(status, 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.', { type: 'invalid_request_error', param: null, code: 'invalid_api_key' });
    case 'not_found': {
      const route = /^no route for (.*)$/.exec(message);
      if (route) return errorOf(status, `Invalid URL (${route[1]})`, { type: 'invalid_request_error', param: null, code: null });
      return errorOf(status, 'The model does not exist or you do not have access to it.', { type: 'invalid_request_error', param: null, code: 'model_not_found' });
    }
    case 'overloaded':
      return errorOf(status, 'The engine is currently overloaded, please try again later', { type: 'server_error', param: null, code: null }, retryAfterS);
    case 'server':
      return errorOf(
        status,
        message.startsWith('Simulated failure') ? 'The server had an error while processing your request. Sorry about that!' : message,
        { type: 'server_error', param: null, code: null },
        retryAfterS,
      );
    case 'context_length':
      return errorOf(status, message, { type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' });
    case 'bad_request':
      return errorOf(status, message === 'request body is not valid JSON' ? NOT_JSON : message, { type: 'invalid_request_error', param: null, code: null });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Request parsing

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text of a message `content`: a string or an array of parts (only text parts carry text). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : isObject(p) && typeof p.refusal === 'string' ? p.refusal : ''))
    .filter(Boolean)
    .join('\n');
}

function messageTokens(m: Json): number {
  let text = contentText(m.content);
  if (Array.isArray(m.tool_calls)) {
    for (const c of m.tool_calls) {
      if (isObject(c) && isObject(c.function)) text += ` ${String(c.function.name ?? '')} ${String(c.function.arguments ?? '')}`;
    }
  }
  if (isObject(m.function_call)) text += ` ${String(m.function_call.name ?? '')} ${String(m.function_call.arguments ?? '')}`;
  return 4 + countTokens(text);
}

interface ChatRequest {
  model: string;
  messages: Json[];
  tools: ToolOffer[];
  toolsTokens: number;
  stream: boolean;
  includeUsage: boolean;
  includeObfuscation: boolean;
  stop: string[];
  reply: Omit<ReplyInput, 'replyWords'>;
}

/** Validates and parses a chat request; sends the 400 and returns undefined when it is invalid. */
function parseChat(ctx: SimContext, deployment: string | undefined): ChatRequest | undefined {
  const body = ctx.req.body;
  if (!isObject(body)) {
    badRequest(ctx, NOT_JSON);
    return undefined;
  }
  const model = typeof body.model === 'string' && body.model ? body.model : deployment;
  if (!model) {
    badRequest(ctx, 'you must provide a model parameter');
    return undefined;
  }
  if (body.messages === undefined) {
    badRequest(ctx, "Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
    return undefined;
  }
  if (!Array.isArray(body.messages)) {
    badRequest(ctx, "Invalid type for 'messages': expected an array of objects, but got a string instead.", 'messages', 'invalid_type');
    return undefined;
  }
  if (body.messages.length === 0) {
    badRequest(ctx, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'messages', 'empty_array');
    return undefined;
  }
  const messages: Json[] = [];
  for (const [i, m] of body.messages.entries()) {
    if (!isObject(m)) {
      badRequest(ctx, `Invalid type for 'messages[${i}]': expected an object, but got a ${typeof m} instead.`, `messages[${i}]`, 'invalid_type');
      return undefined;
    }
    if (typeof m.role !== 'string') {
      badRequest(ctx, `Missing required parameter: 'messages[${i}].role'.`, `messages[${i}].role`, 'missing_required_parameter');
      return undefined;
    }
    if (!ROLES.includes(m.role)) {
      badRequest(ctx, `Invalid value: '${m.role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`, `messages[${i}].role`, 'invalid_value');
      return undefined;
    }
    if (m.role === 'tool' && typeof m.tool_call_id !== 'string') {
      badRequest(ctx, `Missing required parameter: 'messages[${i}].tool_call_id'.`, `messages[${i}].tool_call_id`, 'missing_required_parameter');
      return undefined;
    }
    messages.push(m);
  }
  if (body.prompt_cache_key !== undefined && body.prompt_cache_key !== null && typeof body.prompt_cache_key !== 'string') {
    badRequest(ctx, `Invalid type for 'prompt_cache_key': expected a string, but got ${Array.isArray(body.prompt_cache_key) ? 'an array' : `a ${typeof body.prompt_cache_key}`} instead.`, 'prompt_cache_key', 'invalid_type');
    return undefined;
  }
  const stream = body.stream === true;
  if (body.stream_options !== undefined && body.stream_options !== null && !stream) {
    badRequest(ctx, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options', null);
    return undefined;
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
  let toolsDisabled = false;
  let forcedTool: string | undefined;
  const choice = body.tool_choice;
  if (choice === 'none') toolsDisabled = true;
  else if (choice === 'required') forcedTool = '*';
  else if (isObject(choice)) {
    if (isObject(choice.function) && typeof choice.function.name === 'string') forcedTool = choice.function.name;
    else if (isObject(choice.allowed_tools) && choice.allowed_tools.mode === 'required') forcedTool = '*';
  }
  if (forcedTool && forcedTool !== '*' && !tools.some((t) => t.name === forcedTool)) {
    badRequest(ctx, `Invalid value for 'tool_choice': tool '${forcedTool}' is not in 'tools'.`, 'tool_choice', 'invalid_value');
    return undefined;
  }

  let json: ReplyInput['json'];
  const format = body.response_format;
  if (isObject(format)) {
    if (format.type === 'json_object') json = 'json';
    else if (format.type === 'json_schema') {
      const spec = format.json_schema;
      if (!isObject(spec) || typeof spec.name !== 'string') {
        badRequest(ctx, "Missing required parameter: 'response_format.json_schema.name'.", 'response_format.json_schema.name', 'missing_required_parameter');
        return undefined;
      }
      json = isObject(spec.schema) ? spec.schema : 'json';
    }
  }

  const maxTokens = typeof body.max_completion_tokens === 'number' ? body.max_completion_tokens : typeof body.max_tokens === 'number' ? body.max_tokens : undefined;
  const stop = typeof body.stop === 'string' ? [body.stop] : Array.isArray(body.stop) ? body.stop.filter((s): s is string => typeof s === 'string' && s !== '') : [];

  const last = messages[messages.length - 1]!;
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const streamOptions = isObject(body.stream_options) ? body.stream_options : {};
  return {
    model,
    messages,
    tools,
    toolsTokens: toolDefs.length > 0 ? countTokens(JSON.stringify(toolDefs)) : 0,
    stream,
    includeUsage: stream && streamOptions.include_usage === true,
    includeObfuscation: streamOptions.include_obfuscation !== false,
    stop,
    reply: {
      prompt: lastUser ? contentText(lastUser.content) : '',
      toolResult: last.role === 'tool' || last.role === 'function' ? contentText(last.content) : undefined,
      tools,
      toolsDisabled,
      forcedTool,
      json,
      maxTokens,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Chat completions

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details: { reasoning_tokens: number; audio_tokens: number; accepted_prediction_tokens: number; rejected_prediction_tokens: number };
}

/** Cached prompt tokens for this request (see the module comment), remembering its long prefixes. */
function cachedTokens(ctx: SimContext, req: ChatRequest): number {
  let prefixTokens = req.toolsTokens;
  let cached = 0;
  for (let k = 0; k < req.messages.length; k++) {
    prefixTokens += messageTokens(req.messages[k]!);
    if (prefixTokens < CACHE_MIN_TOKENS) continue;
    const key = JSON.stringify({ model: req.model, tools: req.tools, messages: req.messages.slice(0, k + 1) });
    if (ctx.prefixCache.touch(`openai:${key}`) === 'read') cached = Math.floor(prefixTokens / CACHE_GRANULARITY) * CACHE_GRANULARITY;
  }
  return cached;
}

async function chat(ctx: SimContext, startedAt: number, deployment: string | undefined): Promise<void> {
  const req = parseChat(ctx, deployment);
  if (!req) return;
  if (req.model.startsWith('missing-')) {
    modelNotFound(ctx, req.model);
    return;
  }
  const promptTokens = 3 + req.toolsTokens + req.messages.reduce((n, m) => n + messageTokens(m), 0);
  const max = ctx.faults.maxInputTokens;
  if (max !== undefined && promptTokens > max) {
    send(
      ctx,
      errorResponse(
        400,
        `This model's maximum context length is ${max} tokens. However, your messages resulted in ${promptTokens} tokens. Please reduce the length of the messages.`,
        'context_length',
      ),
    );
    return;
  }
  const cached = cachedTokens(ctx, req);
  const planned = applyStop(planReply({ ...req.reply, replyWords: ctx.faults.replyWords }), req.stop);
  // A blocked answer: nothing generated, the reason in finish_reason, as OpenAI and Azure report it.
  const plan = ctx.faults.contentFilter ? { ...planned, text: '', toolCalls: [], finish: 'content_filter' as const, outputTokens: 0 } : planned;
  const usage: Usage = {
    prompt_tokens: promptTokens,
    completion_tokens: plan.outputTokens,
    total_tokens: promptTokens + plan.outputTokens,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
  const id = `chatcmpl-${randomId(29)}`;
  const created = Math.floor(Date.now() / 1000);
  const fingerprint = `fp_${createHash('sha256').update(req.model).digest('hex').slice(0, 10)}`;
  const toolCalls = plan.toolCalls.map((c) => ({ id: `call_${randomId(24)}`, type: 'function' as const, function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
  const headers = { ...baseHeaders(startedAt), ...rateLimitHeaders(promptTokens + (req.reply.maxTokens ?? plan.outputTokens)) };

  if (!req.stream) {
    const message: Json = { role: 'assistant', content: toolCalls.length > 0 ? null : plan.text, refusal: null, annotations: [] };
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    ctx.sendJson(
      200,
      {
        id,
        object: 'chat.completion',
        created,
        model: req.model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: plan.finish }],
        usage,
        service_tier: 'default',
        system_fingerprint: fingerprint,
      },
      headers,
    );
    return;
  }

  const writer = ctx.stream();
  writer.begin({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  const chunk = (choices: unknown[], extra?: Json): string => {
    const obj: Json = { id, object: 'chat.completion.chunk', created, model: req.model, service_tier: 'default', system_fingerprint: fingerprint, choices };
    if (req.includeUsage) obj.usage = null;
    if (extra) Object.assign(obj, extra);
    if (req.includeObfuscation) obj.obfuscation = randomId(1 + (randomBytes(1)[0]! % 12));
    return `data: ${JSON.stringify(obj)}\n\n`;
  };
  const delta = (d: Json, finish: string | null = null) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);
  const midStreamError = async () => {
    const text = 'The server had an error while processing your request. Sorry about that!';
    const e = { message: ctx.faults.echoHeaders ? `${text} ${echoedRequest(undefined, ctx.req.headers)}` : text, type: 'server_error', param: null, code: null };
    await writer.write(`data: ${JSON.stringify({ error: e })}\n\n`);
    writer.end();
  };
  /** Writes one content frame; false when the stream must stop (gone, or the mid-stream error was sent). */
  const content = async (frame: string): Promise<boolean> => {
    if (!(await writer.write(frame, true))) return false;
    if (writer.errorDue) {
      await midStreamError();
      return false;
    }
    return true;
  };

  if (toolCalls.length === 0) {
    if (!(await writer.write(delta({ role: 'assistant', content: '', refusal: null })))) return;
    if (ctx.faults.errorAfterChunks === 0) return midStreamError();
    for (const piece of chunkText(plan.text, ctx.faults.chunkCount)) {
      if (!(await content(delta({ content: piece })))) return;
    }
  } else {
    for (const [index, call] of toolCalls.entries()) {
      const head = { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } };
      const first = index === 0 ? { role: 'assistant', content: null, tool_calls: [head] } : { tool_calls: [head] };
      if (!(await writer.write(delta(first)))) return;
      if (index === 0 && ctx.faults.errorAfterChunks === 0) return midStreamError();
      const args = call.function.arguments;
      const pieces = fragment(args, ctx.faults.chunkCount ?? Math.min(16, Math.max(2, Math.ceil(args.length / 8))));
      for (const piece of pieces) {
        if (!(await content(delta({ tool_calls: [{ index, function: { arguments: piece } }] })))) return;
      }
    }
  }
  if (!(await writer.write(delta({}, plan.finish)))) return;
  if (req.includeUsage && !(await writer.write(chunk([], { usage })))) return;
  if (!ctx.faults.omitEndMarker) await writer.write('data: [DONE]\n\n');
  writer.end();
}

// ---------------------------------------------------------------------------------------------------------------
// Embeddings

function embeddings(ctx: SimContext, startedAt: number, deployment: string | undefined): void {
  const body = ctx.req.body;
  if (!isObject(body)) {
    badRequest(ctx, NOT_JSON);
    return;
  }
  const model = typeof body.model === 'string' && body.model ? body.model : deployment;
  if (!model) {
    badRequest(ctx, 'you must provide a model parameter');
    return;
  }
  if (body.input === undefined || body.input === null) {
    badRequest(ctx, "Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
    return;
  }
  // string | string[] | number[] (one token array) | number[][]
  const raw = body.input;
  let inputs: Array<{ key: string; tokens: number }>;
  if (typeof raw === 'string') inputs = [{ key: raw, tokens: countTokens(raw) }];
  else if (Array.isArray(raw) && raw.length > 0 && raw.every((x) => typeof x === 'number')) inputs = [{ key: JSON.stringify(raw), tokens: raw.length }];
  else if (Array.isArray(raw) && raw.length > 0 && raw.every((x) => typeof x === 'string' || (Array.isArray(x) && x.every((t) => typeof t === 'number')))) {
    inputs = raw.map((x) => (typeof x === 'string' ? { key: x, tokens: countTokens(x) } : { key: JSON.stringify(x), tokens: (x as number[]).length }));
  } else {
    badRequest(ctx, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", null, null);
    return;
  }
  if (inputs.length > 2048 || inputs.some((i) => i.key === '' || i.key === '[]')) {
    badRequest(ctx, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", null, null);
    return;
  }
  let dims = DEFAULT_EMBEDDING_DIMS;
  if (body.dimensions !== undefined) {
    if (typeof body.dimensions !== 'number' || !Number.isInteger(body.dimensions) || body.dimensions < 1 || body.dimensions > MAX_EMBEDDING_DIMS) {
      badRequest(ctx, `Invalid 'dimensions': expected an integer between 1 and ${MAX_EMBEDDING_DIMS}.`, 'dimensions', 'invalid_value');
      return;
    }
    dims = body.dimensions;
  }
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    badRequest(ctx, `Invalid value: '${String(format)}'. Supported values are: 'float' and 'base64'.`, 'encoding_format', 'invalid_value');
    return;
  }
  if (model.startsWith('missing-')) {
    modelNotFound(ctx, model);
    return;
  }
  const max = ctx.faults.maxInputTokens;
  const tooLong = max === undefined ? undefined : inputs.find((i) => i.tokens > max);
  if (max !== undefined && tooLong) {
    send(
      ctx,
      errorResponse(
        400,
        `This model's maximum context length is ${max} tokens, however you requested ${tooLong.tokens} tokens (${tooLong.tokens} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.`,
        'context_length',
      ),
    );
    return;
  }
  const total = inputs.reduce((n, i) => n + i.tokens, 0);
  const data = inputs.map((input, index) => {
    const vector = embeddingOf(input.key, dims);
    const embedding = format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  ctx.sendJson(200, { object: 'list', data, model, usage: { prompt_tokens: total, total_tokens: total } }, { ...baseHeaders(startedAt), ...rateLimitHeaders(total) });
}

// ---------------------------------------------------------------------------------------------------------------
// Models

const MODEL_CREATED = 1_715_367_049;

function modelObject(id: string): Json {
  return { id, object: 'model', created: MODEL_CREATED, owned_by: id.startsWith('text-embedding') ? 'openai-internal' : 'system' };
}

// ---------------------------------------------------------------------------------------------------------------

async function handle(ctx: SimContext): Promise<boolean> {
  const startedAt = performance.now();
  const { method, path } = ctx.req;
  const azure = AZURE_PATH.exec(path);
  if (method === 'POST' && (CHAT_PATH.test(path) || azure?.[2] === 'chat/completions')) {
    await chat(ctx, startedAt, azure ? decodeURIComponent(azure[1]!) : undefined);
    return true;
  }
  if (method === 'POST' && (EMBEDDINGS_PATH.test(path) || azure?.[2] === 'embeddings')) {
    embeddings(ctx, startedAt, azure ? decodeURIComponent(azure[1]!) : undefined);
    return true;
  }
  if (method === 'GET' && MODELS_PATH.test(path)) {
    ctx.sendJson(200, { object: 'list', data: MODELS.map(modelObject) }, baseHeaders(startedAt));
    return true;
  }
  const one = MODEL_PATH.exec(path);
  if (method === 'GET' && one) {
    const id = decodeURIComponent(one[1]!);
    if (id.startsWith('missing-')) modelNotFound(ctx, id);
    else ctx.sendJson(200, modelObject(id), baseHeaders(startedAt));
    return true;
  }
  return false;
}

function apiKeyOf(req: SimRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1];
  }
  const azureKey = req.headers['api-key'];
  return typeof azureKey === 'string' ? azureKey : undefined;
}

export const openaiSimulator: ProtocolSimulator = {
  protocol: 'openai',
  handle,
  errorResponse,
  apiKeyOf,
};
