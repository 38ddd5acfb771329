import { randomBytes } from 'node:crypto';
import type { ErrorResponse, ProtocolSimulator, SimContext, SimErrorKind, SimRequest, StreamWriter } from './protocol.ts';
import { checkThinkingBlock, checkToolTurn, parseThinking, thinkingBlocks } from './anthropic-thinking.ts';
import { chunkText, countTokens, fragment, planReply, type PlannedReply, type ToolOffer } from './reply.ts';
import { planThinking, wantsRedacted, type PlannedThinking, type ThoughtSigner } from './thinking.ts';

/**
 * Anthropic Messages API simulator (`POST /v1/messages`), written from
 * /work/shared/provider-protocols/anthropic.md, independent of src/providers/anthropic.
 *
 * Also serves `POST /v1/messages/count_tokens` and `GET /v1/models[/{id}]`. Auth: `x-api-key` or
 * `Authorization: Bearer`; `anthropic-version` is accepted but not required.
 *
 * Token accounting (the same for streamed and non-streamed replies):
 * - input = countTokens(tool name + description + input_schema JSON) per tool
 *   + countTokens(system text) + 3 when a system prompt is given
 *   + for each message: countTokens of every block's text (text, tool_use name + input JSON, tool_result text) + 3.
 *   Images and documents count 0.
 * - Caching: the prefix up to and including the last block carrying `cache_control` (tools → system → messages,
 *   the API's order; a top-level `cache_control` marks the whole prompt) is looked up in the simulator's PrefixCache
 *   (keyed by model and the prefix content). First time: `cache_creation_input_tokens` = prefix tokens; after:
 *   `cache_read_input_tokens`. `input_tokens` is the rest (it excludes cached tokens, as the API's does).
 *   An entry lives 5 minutes (`ttl: '1h'`: an hour) from its last use; more than 4 breakpoints is a 400.
 *   Unlike the real API there is no minimum cacheable length, and only the last breakpoint's prefix is looked up.
 * - output = planReply's outputTokens (after a stop sequence cut, recounted), plus the thinking's tokens.
 *
 * Extended thinking (`thinking: {type: 'enabled', budget_tokens}` or `adaptive`): the reply starts with a thinking
 * block (planThinking) signed by this simulator, and a redacted_thinking block when the prompt says "redact";
 * streamed as thinking_delta pieces and one signature_delta. Thinking blocks sent back must carry a signature this
 * simulator issued (else 400), and with thinking on, a tool-result turn's assistant message must start with one
 * (src/simulator/anthropic-thinking.ts).
 */

type Json = Record<string, unknown>;

/** Cache breakpoints one request may carry; an entry lives 5 minutes (or 1 hour) from its last use. */
const MAX_BREAKPOINTS = 4;
const FIVE_MINUTES_MS = 5 * 60_000;
const HOUR_MS = 60 * 60_000;

interface Segment {
  /** Stable text identifying this block in the prompt (for the prefix cache key). */
  key: string;
  tokens: number;
  cache?: { ttl: '5m' | '1h' } | undefined;
}

interface ParsedRequest {
  model: string;
  stream: boolean;
  maxTokens: number;
  stopSequences: string[];
  segments: Segment[];
  /** Index of the last cache-marked segment, or -1. */
  lastMarked: number;
  autoCache: { ttl: '5m' | '1h' } | undefined;
  prompt: string;
  toolResult: string | undefined;
  tools: ToolOffer[];
  toolsDisabled: boolean;
  forcedTool: string | undefined;
  json: Json | undefined;
  thinking: boolean;
}

interface Usage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
  /** Set when the reply thought: the thinking's share of output_tokens. */
  output_tokens_details?: { thinking_tokens: number };
  service_tier: 'standard';
}

class InvalidRequest extends Error {}

const fail = (message: string): never => {
  throw new InvalidRequest(message);
};

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomId(prefix: string, length: number): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += BASE62[b % 62];
  return out;
}

/** `msg_01` + 22 base62 characters, like `msg_01VdEjxAP5ahtHKrrRdNBteQ`. */
function anthropicMessageId(): string {
  return randomId('msg_01', 22);
}

/** `toolu_01` + 22 base62 characters. */
function toolUseId(): string {
  return randomId('toolu_01', 22);
}

/** `req_011C` + 20 base62 characters, like `req_011CSHoEeqs5C35K2UUqR7Fy`. */
function requestId(): string {
  return randomId('req_011C', 20);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function cacheOf(block: unknown): { ttl: '5m' | '1h' } | undefined {
  if (!isObject(block) || !isObject(block.cache_control)) return undefined;
  if (block.cache_control.type !== 'ephemeral') throw new InvalidRequest('cache_control.type: Input should be \'ephemeral\'');
  return { ttl: block.cache_control.ttl === '1h' ? '1h' : '5m' };
}

/** The text of a tool_result block's content (a string or an array of text blocks). */
function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((b) => (isObject(b) && b.type === 'text' && typeof b.text === 'string' ? b.text : ''))
      .filter(Boolean)
      .join('\n');
  }
  return '';
}

/** The countable text of one content block. */
function blockText(block: Json, where: string): string {
  switch (block.type) {
    case 'text':
      if (typeof block.text !== 'string') throw new InvalidRequest(`${where}.text: Field required`);
      return block.text;
    case 'tool_use':
      return `${typeof block.name === 'string' ? block.name : ''} ${JSON.stringify(block.input ?? {})}`;
    case 'tool_result':
      if (typeof block.tool_use_id !== 'string') throw new InvalidRequest(`${where}.tool_use_id: Field required`);
      return toolResultText(block.content);
    case 'thinking':
      return typeof block.thinking === 'string' ? block.thinking : '';
    case 'image':
    case 'document':
    case 'redacted_thinking':
      return '';
    default:
      throw new InvalidRequest(`${where}.type: Input tag '${String(block.type)}' found using 'type' does not match any of the expected tags`);
  }
}

function parseRequest(body: unknown, signer: ThoughtSigner): ParsedRequest {
  if (!isObject(body)) throw new InvalidRequest('Request body must be a JSON object');
  if (typeof body.model !== 'string' || body.model === '') throw new InvalidRequest('model: Field required');
  if (body.max_tokens === undefined || body.max_tokens === null) throw new InvalidRequest('max_tokens: Field required');
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens)) throw new InvalidRequest('max_tokens: Input should be a valid integer');
  if (body.max_tokens < 1) throw new InvalidRequest('max_tokens: Input should be greater than or equal to 1');
  if (body.messages === undefined) throw new InvalidRequest('messages: Field required');
  if (!Array.isArray(body.messages)) throw new InvalidRequest('messages: Input should be a valid list');
  if (body.messages.length === 0) throw new InvalidRequest('messages: at least one message is required');

  const segments: Segment[] = [];

  // Tools come first in the API's cache prefix order.
  const tools: ToolOffer[] = [];
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) throw new InvalidRequest('tools: Input should be a valid list');
    body.tools.forEach((t: unknown, i: number) => {
      if (!isObject(t) || typeof t.name !== 'string') throw new InvalidRequest(`tools.${i}.name: Field required`);
      const isCustom = t.type === undefined || t.type === 'custom';
      if (isCustom && !isObject(t.input_schema)) throw new InvalidRequest(`tools.${i}.custom.input_schema: Field required`);
      const description = typeof t.description === 'string' ? t.description : '';
      const schemaText = isObject(t.input_schema) ? JSON.stringify(t.input_schema) : '';
      segments.push({ key: `tool\u0000${t.name}\u0000${description}\u0000${schemaText}`, tokens: countTokens(`${t.name} ${description} ${schemaText}`), cache: cacheOf(t) });
      if (isCustom) tools.push({ name: t.name, parameters: t.input_schema as Json });
    });
  }

  if (typeof body.system === 'string') {
    segments.push({ key: `system\u0000${body.system}`, tokens: countTokens(body.system) + 3 });
  } else if (Array.isArray(body.system)) {
    body.system.forEach((b: unknown, i: number) => {
      if (!isObject(b) || b.type !== 'text' || typeof b.text !== 'string') throw new InvalidRequest(`system.${i}: Input should be a valid text block`);
      segments.push({ key: `system\u0000${b.text}`, tokens: countTokens(b.text) + (i === 0 ? 3 : 0), cache: cacheOf(b) });
    });
  } else if (body.system !== undefined) {
    throw new InvalidRequest('system: Input should be a valid string or list of text blocks');
  }

  let prompt = '';
  let toolResult: string | undefined;
  const messages = body.messages as unknown[];
  messages.forEach((m, i) => {
    if (!isObject(m)) throw new InvalidRequest(`messages.${i}: Input should be a valid dictionary`);
    if (m.role !== 'user' && m.role !== 'assistant') throw new InvalidRequest(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    const role = m.role;
    if (typeof m.content === 'string') {
      segments.push({ key: `${role}\u0000${i}\u0000${m.content}`, tokens: countTokens(m.content) + 3 });
      if (role === 'user') {
        prompt = m.content;
        toolResult = undefined;
      }
      return;
    }
    if (!Array.isArray(m.content)) throw new InvalidRequest(`messages.${i}.content: Field required`);
    if (m.content.length === 0) {
      segments.push({ key: `${role}\u0000${i}\u0000`, tokens: 3 });
      return;
    }
    const texts: string[] = [];
    const results: string[] = [];
    m.content.forEach((b: unknown, j: number) => {
      const where = `messages.${i}.content.${j}`;
      if (!isObject(b)) throw new InvalidRequest(`${where}: Input should be a valid dictionary`);
      checkThinkingBlock(b, where, signer, fail);
      const text = blockText(b, where);
      segments.push({ key: `${role}\u0000${i}\u0000${String(b.type)}\u0000${text}`, tokens: countTokens(text) + (j === 0 ? 3 : 0), cache: cacheOf(b) });
      if (b.type === 'text') texts.push(text);
      if (b.type === 'tool_result') results.push(text);
    });
    if (role === 'user') {
      if (texts.length > 0) prompt = texts.join('\n');
      toolResult = results.length > 0 ? results.join('\n') : undefined;
    }
  });
  // The reply answers the last message: a trailing assistant turn (prefill) does not carry a tool result.
  const last = messages[messages.length - 1];
  if (isObject(last) && last.role !== 'user') toolResult = undefined;

  let lastMarked = -1;
  let breakpoints = 0;
  segments.forEach((s, i) => {
    if (s.cache) {
      lastMarked = i;
      breakpoints++;
    }
  });
  const autoCache = isObject(body.cache_control) ? cacheOf({ cache_control: body.cache_control }) : undefined;
  // The top-level (automatic) breakpoint takes one of the four slots too.
  if (autoCache) breakpoints++;
  if (breakpoints > MAX_BREAKPOINTS) throw new InvalidRequest(`A maximum of ${MAX_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpoints}.`);

  let toolsDisabled = false;
  let forcedTool: string | undefined;
  if (body.tool_choice !== undefined) {
    const tc = body.tool_choice;
    if (!isObject(tc)) throw new InvalidRequest('tool_choice: Input should be a valid dictionary');
    switch (tc.type) {
      case 'auto':
        break;
      case 'none':
        toolsDisabled = true;
        break;
      case 'any':
        forcedTool = '*';
        break;
      case 'tool':
        if (typeof tc.name !== 'string') throw new InvalidRequest('tool_choice.tool.name: Field required');
        if (!tools.some((t) => t.name === tc.name)) throw new InvalidRequest(`Tool '${tc.name}' not found in provided tools`);
        forcedTool = tc.name;
        break;
      default:
        throw new InvalidRequest(`tool_choice: Input tag '${String(tc.type)}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'`);
    }
    if (forcedTool !== undefined && tools.length === 0) throw new InvalidRequest('tool_choice may only be specified while providing tools.');
  }

  const thinking = parseThinking(body, body.max_tokens, fail);
  if (thinking) checkToolTurn(messages, fail);

  let json: Json | undefined;
  if (isObject(body.output_config) && body.output_config.format !== undefined && body.output_config.format !== null) {
    const format = body.output_config.format;
    if (!isObject(format) || format.type !== 'json_schema') throw new InvalidRequest('output_config.format.type: Input should be \'json_schema\'');
    if (!isObject(format.schema)) throw new InvalidRequest('output_config.format.schema: Field required');
    json = format.schema;
  }

  let stopSequences: string[] = [];
  if (body.stop_sequences !== undefined) {
    if (!Array.isArray(body.stop_sequences) || !body.stop_sequences.every((s) => typeof s === 'string')) {
      throw new InvalidRequest('stop_sequences: Input should be a valid list of strings');
    }
    stopSequences = (body.stop_sequences as string[]).filter((s) => s !== '');
  }

  return {
    model: body.model,
    stream: body.stream === true,
    maxTokens: body.max_tokens,
    stopSequences,
    segments,
    lastMarked,
    autoCache,
    prompt,
    toolResult,
    tools,
    toolsDisabled,
    forcedTool,
    json,
    thinking,
  };
}

function computeUsage(req: ParsedRequest, ctx: SimContext, outputTokens: number): Usage {
  const total = req.segments.reduce((n, s) => n + s.tokens, 0);
  const usage: Usage = {
    input_tokens: total,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
  const end = req.autoCache ? req.segments.length - 1 : req.lastMarked;
  if (end < 0) return usage;
  const prefix = req.segments.slice(0, end + 1);
  const prefixTokens = prefix.reduce((n, s) => n + s.tokens, 0);
  if (prefixTokens === 0) return usage;
  const ttl = (req.autoCache ?? req.segments[end]?.cache)?.ttl ?? '5m';
  const key = `anthropic\u0001${req.model}\u0001${prefix.map((s) => s.key).join('\u0001')}`;
  usage.input_tokens = total - prefixTokens;
  if (ctx.prefixCache.touch(key, ttl === '1h' ? HOUR_MS : FIVE_MINUTES_MS) === 'read') {
    usage.cache_read_input_tokens = prefixTokens;
  } else {
    usage.cache_creation_input_tokens = prefixTokens;
    if (ttl === '1h') usage.cache_creation.ephemeral_1h_input_tokens = prefixTokens;
    else usage.cache_creation.ephemeral_5m_input_tokens = prefixTokens;
  }
  return usage;
}

interface Outcome {
  reply: PlannedReply;
  /** Set when the request turned thinking on. */
  thinking: PlannedThinking | undefined;
  redacted: boolean;
  stopReason: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';
  stopSequence: string | null;
}

function plan(req: ParsedRequest, replyWords: number): Outcome {
  // max_tokens covers thinking and answer alike: what thinking took is not left for the answer.
  const thinking = req.thinking ? planThinking(req.prompt, req.toolResult, replyWords) : undefined;
  const redacted = thinking !== undefined && wantsRedacted(req.prompt);
  const maxTokens = Math.max(1, req.maxTokens - (thinking?.tokens ?? 0));
  // The parsed request carries the reply's inputs under the same names.
  const reply = planReply({ ...req, maxTokens, replyWords });
  const base = { thinking, redacted };
  if (reply.toolCalls.length > 0) return { ...base, reply, stopReason: 'tool_use', stopSequence: null };
  if (req.json === undefined && req.stopSequences.length > 0) {
    let cut = -1;
    let matched: string | null = null;
    for (const s of req.stopSequences) {
      const at = reply.text.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) {
        cut = at;
        matched = s;
      }
    }
    if (matched !== null) {
      const text = reply.text.slice(0, cut);
      return { ...base, reply: { ...reply, text, outputTokens: countTokens(text), finish: 'stop' }, stopReason: 'stop_sequence', stopSequence: matched };
    }
  }
  return { ...base, reply, stopReason: reply.finish === 'length' ? 'max_tokens' : 'end_turn', stopSequence: null };
}

function rateLimitHeaders(inputTokens: number, outputTokens: number, exhausted: boolean, resetS: number): Record<string, string> {
  const reset = new Date(Math.ceil(Date.now() / 1000) * 1000 + resetS * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const h: Record<string, string> = {};
  const set = (name: string, limit: number, used: number) => {
    h[`anthropic-ratelimit-${name}-limit`] = String(limit);
    h[`anthropic-ratelimit-${name}-remaining`] = String(exhausted ? 0 : Math.max(0, limit - used));
    h[`anthropic-ratelimit-${name}-reset`] = reset;
  };
  set('requests', 4000, 1);
  set('input-tokens', 400000, inputTokens);
  set('output-tokens', 80000, outputTokens);
  set('tokens', 480000, inputTokens + outputTokens);
  return h;
}

function contentBlocks(outcome: Outcome, signer: ThoughtSigner): Json[] {
  const blocks: Json[] = outcome.thinking ? thinkingBlocks(outcome.thinking, outcome.redacted, signer) : [];
  const { text, toolCalls } = outcome.reply;
  if (text !== '' || toolCalls.length === 0) blocks.push({ type: 'text', text });
  for (const call of toolCalls) blocks.push({ type: 'tool_use', id: toolUseId(), name: call.name, input: call.arguments });
  return blocks;
}

async function handleMessages(ctx: SimContext): Promise<void> {
  let req: ParsedRequest;
  try {
    req = parseRequest(ctx.req.body, ctx.signer);
  } catch (err) {
    if (err instanceof InvalidRequest) {
      ctx.sendError(400, err.message, 'bad_request');
      return;
    }
    throw err;
  }
  if (req.model.startsWith('missing-')) {
    ctx.sendError(404, `model: ${req.model}`, 'not_found');
    return;
  }
  const totalInput = req.segments.reduce((n, s) => n + s.tokens, 0);
  if (ctx.faults.maxInputTokens !== undefined && totalInput > ctx.faults.maxInputTokens) {
    ctx.sendError(400, `prompt is too long: ${totalInput} tokens > ${ctx.faults.maxInputTokens} maximum`, 'context_length');
    return;
  }
  const outcome = plan(req, ctx.faults.replyWords);
  const thinkingTokens = outcome.thinking?.tokens ?? 0;
  const usage = computeUsage(req, ctx, outcome.reply.outputTokens + thinkingTokens);
  if (outcome.thinking) usage.output_tokens_details = { thinking_tokens: thinkingTokens };
  const headers = {
    'request-id': requestId(),
    'anthropic-organization-id': '00000000-0000-4000-8000-000000000000',
    ...rateLimitHeaders(totalInput, outcome.reply.outputTokens, false, 60),
  };
  const id = anthropicMessageId();
  if (!req.stream) {
    ctx.sendJson(
      200,
      {
        model: req.model,
        id,
        type: 'message',
        role: 'assistant',
        content: contentBlocks(outcome, ctx.signer),
        stop_reason: outcome.stopReason,
        stop_sequence: outcome.stopSequence,
        usage,
      },
      headers,
    );
    return;
  }
  await streamMessage(ctx, req, outcome, usage, id, headers);
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

const MID_STREAM_ERROR = sse('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });

async function streamMessage(ctx: SimContext, req: ParsedRequest, outcome: Outcome, usage: Usage, id: string, headers: Record<string, string>): Promise<void> {
  const w: StreamWriter = ctx.stream();
  w.begin({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });

  /** Writes a frame; false when the stream must stop (gone, or the mid-stream error was just sent). */
  const send = async (event: string, data: unknown, content = false): Promise<boolean> => {
    if (content && w.contentFrames === 0 && w.errorDue) {
      await w.write(MID_STREAM_ERROR);
      w.end();
      return false;
    }
    if (!(await w.write(sse(event, data), content))) return false;
    if (content && w.errorDue) {
      await w.write(MID_STREAM_ERROR);
      w.end();
      return false;
    }
    return true;
  };

  const start = {
    type: 'message_start',
    message: {
      model: req.model,
      id,
      type: 'message',
      role: 'assistant',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: Math.min(1, usage.output_tokens) },
    },
  };
  if (!(await send('message_start', start))) return;

  let index = 0;
  let pinged = false;
  const ping = async (): Promise<boolean> => {
    if (pinged) return true;
    pinged = true;
    return send('ping', { type: 'ping' });
  };
  for (const block of outcome.thinking ? thinkingBlocks(outcome.thinking, outcome.redacted, ctx.signer) : []) {
    if (block.type === 'redacted_thinking') {
      // Redacted reasoning arrives whole in its start event.
      if (!(await send('content_block_start', { type: 'content_block_start', index, content_block: block }))) return;
    } else {
      const start = { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } };
      if (!(await send('content_block_start', start))) return;
      if (!(await ping())) return;
      for (const piece of chunkText(String(block.thinking), ctx.faults.chunkCount)) {
        if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } }, true))) return;
      }
      if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } }))) return;
    }
    if (!(await send('content_block_stop', { type: 'content_block_stop', index }))) return;
    index++;
  }
  const { text, toolCalls } = outcome.reply;
  if (text !== '' || toolCalls.length === 0) {
    if (!(await send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }))) return;
    if (!(await ping())) return;
    for (const piece of chunkText(text, ctx.faults.chunkCount)) {
      if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }, true))) return;
    }
    if (!(await send('content_block_stop', { type: 'content_block_stop', index }))) return;
    index++;
  }
  for (const call of toolCalls) {
    const start = { type: 'content_block_start', index, content_block: { type: 'tool_use', id: toolUseId(), name: call.name, input: {} } };
    if (!(await send('content_block_start', start))) return;
    if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } }))) return;
    if (!(await ping())) return;
    const args = JSON.stringify(call.arguments);
    for (const piece of fragment(args, Math.max(2, ctx.faults.chunkCount ?? 4))) {
      if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }, true))) return;
    }
    if (!(await send('content_block_stop', { type: 'content_block_stop', index }))) return;
    index++;
  }
  const delta = {
    type: 'message_delta',
    delta: { stop_reason: outcome.stopReason, stop_sequence: outcome.stopSequence },
    usage: {
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      output_tokens: usage.output_tokens,
      ...(usage.output_tokens_details && { output_tokens_details: usage.output_tokens_details }),
    },
  };
  if (!(await send('message_delta', delta))) return;
  if (!ctx.faults.omitEndMarker && !(await send('message_stop', { type: 'message_stop' }))) return;
  w.end();
}

function handleCountTokens(ctx: SimContext): void {
  // count_tokens takes no max_tokens: a stand-in large enough for any thinking budget.
  const body = isObject(ctx.req.body) ? { max_tokens: 1_000_000, ...ctx.req.body } : ctx.req.body;
  let req: ParsedRequest;
  try {
    req = parseRequest(body, ctx.signer);
  } catch (err) {
    if (err instanceof InvalidRequest) {
      ctx.sendError(400, err.message, 'bad_request');
      return;
    }
    throw err;
  }
  if (req.model.startsWith('missing-')) {
    ctx.sendError(404, `model: ${req.model}`, 'not_found');
    return;
  }
  ctx.sendJson(200, { input_tokens: req.segments.reduce((n, s) => n + s.tokens, 0) }, { 'request-id': requestId() });
}

const MODELS = ['claude-opus-5-5', 'claude-sonnet-5-5', 'claude-haiku-4-5-20251001'];

function modelInfo(id: string): Json {
  return { type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' };
}

function errorType(status: number, kind: SimErrorKind): string {
  if (kind === 'overloaded' || status === 529) return 'overloaded_error';
  if (kind === 'rate_limit' || status === 429) return 'rate_limit_error';
  switch (status) {
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 504:
      return 'timeout_error';
  }
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

function errorMessage(type: string, message: string): string {
  switch (type) {
    case 'rate_limit_error':
      return "This request would exceed your account's rate limit. Please try again later.";
    case 'overloaded_error':
      return 'Overloaded';
    case 'authentication_error':
      return 'invalid x-api-key';
    case 'api_error':
      return message.startsWith('simulator error') ? message : 'Internal server error';
    default:
      return message;
  }
}

export const anthropicSimulator: ProtocolSimulator = {
  protocol: 'anthropic',

  async handle(ctx) {
    const { method, path } = ctx.req;
    if (method === 'POST' && path === '/v1/messages') {
      await handleMessages(ctx);
      return true;
    }
    if (method === 'POST' && path === '/v1/messages/count_tokens') {
      handleCountTokens(ctx);
      return true;
    }
    if (method === 'GET' && path === '/v1/models') {
      const data = MODELS.map(modelInfo);
      ctx.sendJson(200, { data, has_more: false, first_id: MODELS[0], last_id: MODELS[MODELS.length - 1] }, { 'request-id': requestId() });
      return true;
    }
    const m = /^\/v1\/models\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      const id = decodeURIComponent(m[1]!);
      if (id.startsWith('missing-')) ctx.sendError(404, `model: ${id}`, 'not_found');
      else ctx.sendJson(200, modelInfo(id), { 'request-id': requestId() });
      return true;
    }
    return false;
  },

  errorResponse(status, message, kind, retryAfterS): ErrorResponse {
    const type = errorType(status, kind);
    const rid = requestId();
    const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': rid };
    if (retryAfterS !== undefined && (status === 429 || status === 503 || status === 529)) headers['retry-after'] = String(Math.ceil(retryAfterS));
    if (status === 429) Object.assign(headers, rateLimitHeaders(0, 0, true, retryAfterS ?? 60));
    const body = { type: 'error', error: { type, message: errorMessage(type, message) }, request_id: rid };
    return { status, headers, body: JSON.stringify(body) };
  },

  apiKeyOf(req: SimRequest) {
    const key = req.headers['x-api-key'];
    if (typeof key === 'string' && key !== '') return key;
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '');
    return undefined;
  },
};
