import {
  GatewayError,
  partsOf,
  reasoningPartsFor,
  type CacheControl,
  type ChatRequest,
  type ContentPart,
  type ImagePart,
  type Message,
  type ReasoningPart,
  type TextPart,
  type ToolCall,
  type ToolChoice,
} from '../../core/index.ts';
import { claudeThinking } from '../shared/claude-thinking.ts';
import type { CallOptions } from '../spec.ts';
import { placeCacheBreakpoints } from './cache-breakpoints.ts';

/** Anthropic requires max_tokens; this is the last fallback after the request and the model config. */
export const DEFAULT_MAX_TOKENS = 4096;

type Block = Record<string, unknown>;
interface WireMessage {
  role: 'user' | 'assistant';
  content: Block[];
}

function unsupported(provider: string, param: string, why: string): GatewayError {
  return new GatewayError('unsupported_feature', `${provider}: ${why}`, { provider, param });
}

function invalid(provider: string, param: string, why: string): GatewayError {
  return new GatewayError('invalid_request', `${provider}: ${why}`, { provider, param });
}

function cacheControl(cc: CacheControl | undefined): { cache_control?: Block } {
  if (!cc) return {};
  return { cache_control: { type: cc.type, ...(cc.ttl !== undefined && { ttl: cc.ttl }) } };
}

/**
 * Empty text blocks are rejected by the API ("text content blocks must be non-empty"), and clients
 * routinely send `content: ""` next to tool calls, so they are skipped; they carry nothing.
 */
function textBlocks(parts: readonly TextPart[]): Block[] {
  return parts.filter((p) => p.text !== '').map((p) => ({ type: 'text', text: p.text, ...cacheControl(p.cacheControl) }));
}

function imageBlock(provider: string, p: ImagePart): Block {
  // `detail` has no Anthropic counterpart; like cacheControl elsewhere it is a rendering hint, not content.
  if (p.data !== undefined) return { type: 'image', source: { type: 'base64', media_type: p.mediaType, data: p.data }, ...cacheControl(p.cacheControl) };
  const url = p.url ?? '';
  if (url.startsWith('data:')) {
    const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
    if (!m) throw invalid(provider, 'image', 'image data URLs must be base64 with a media type');
    return { type: 'image', source: { type: 'base64', media_type: m[1], data: m[2] }, ...cacheControl(p.cacheControl) };
  }
  return { type: 'image', source: { type: 'url', url }, ...cacheControl(p.cacheControl) };
}

function contentBlocks(provider: string, content: string | ContentPart[]): Block[] {
  const out: Block[] = [];
  for (const p of partsOf(content)) {
    if (p.type === 'text') out.push(...textBlocks([p]));
    else out.push(imageBlock(provider, p));
  }
  return out;
}

/** Anthropic wants `input` as an object; our arguments are JSON text, so they must parse to one. */
function toolUseBlock(provider: string, call: ToolCall): Block {
  let input: unknown;
  if (call.arguments.trim() === '') {
    input = {};
  } else {
    try {
      input = JSON.parse(call.arguments);
    } catch {
      throw invalid(provider, 'toolCalls', `arguments of tool call ${call.id} (${call.name}) are not valid JSON`);
    }
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalid(provider, 'toolCalls', `arguments of tool call ${call.id} (${call.name}) must be a JSON object`);
  }
  return { type: 'tool_use', id: call.id, name: call.name, input };
}

/**
 * The turn's signed thinking, first in the assistant message as the API requires ("a final assistant message
 * must start with a thinking block" when thinking is on). Unsigned reasoning and other vendors' signatures are
 * left out: the API would reject them, and the model needs only its own.
 */
function thinkingBlocks(parts: readonly ReasoningPart[] | undefined): Block[] {
  return reasoningPartsFor(parts, 'anthropic').map((p) =>
    p.redacted === true ? { type: 'redacted_thinking', data: p.signature } : { type: 'thinking', thinking: p.text, signature: p.signature },
  );
}

function toWire(provider: string, m: Exclude<Message, { role: 'system' }>): WireMessage {
  switch (m.role) {
    case 'user':
      return { role: 'user', content: contentBlocks(provider, m.content) };
    case 'assistant':
      return {
        role: 'assistant',
        content: [
          ...thinkingBlocks(m.reasoningParts),
          ...contentBlocks(provider, m.content ?? ''),
          ...(m.toolCalls ?? []).map((c) => toolUseBlock(provider, c)),
        ],
      };
    case 'tool':
      return {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: m.toolCallId,
            content: typeof m.content === 'string' ? m.content : textBlocks(m.content),
          },
        ],
      };
  }
}

/** Roles must alternate, so neighbours of one role (e.g. several tool results) become one message. */
function mapMessages(provider: string, messages: readonly Message[]): { system: Block[]; messages: WireMessage[] } {
  const system: Block[] = [];
  const out: WireMessage[] = [];
  for (const m of messages) {
    if (m.role === 'system') {
      system.push(...textBlocks(partsOf(m.content) as TextPart[]));
      continue;
    }
    const w = toWire(provider, m);
    const last = out.at(-1);
    if (last && last.role === w.role) last.content.push(...w.content);
    else out.push(w);
  }
  return { system, messages: out };
}

function toolChoice(choice: ToolChoice): Block {
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  return { type: 'tool', name: choice.name };
}

/**
 * With thinking on, Anthropic refuses a tool-result turn whose assistant message does not start with its own
 * signed thinking. A turn another vendor (or a non-thinking call) made has none, so that one request goes
 * without thinking: the model continues the turn rather than the request failing for certain.
 */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The Messages body for a ChatRequest. Throws unsupported_feature for what Anthropic cannot express
 * (seed, json_object) rather than dropping it, and invalid_request for what it would reject anyway.
 */
export function buildMessagesBody(
  req: ChatRequest,
  opts: Pick<CallOptions, 'model' | 'defaultMaxOutputTokens' | 'promptCache'>,
  provider: string,
  stream: boolean,
): Record<string, unknown> {
  if (req.seed !== undefined) throw unsupported(provider, 'seed', 'Anthropic has no seed parameter');
  if (req.responseFormat?.type === 'json_object') {
    throw unsupported(provider, 'json_object', 'Anthropic has no json_object response format (use json_schema)');
  }
  if (req.temperature !== undefined && req.temperature > 1) {
    throw invalid(provider, 'temperature', 'Anthropic accepts temperature between 0 and 1');
  }

  const { system, messages } = mapMessages(provider, req.messages);
  const answerTokens = req.maxOutputTokens ?? opts.defaultMaxOutputTokens ?? DEFAULT_MAX_TOKENS;
  const thinking = claudeThinking(provider, 'anthropic', req, answerTokens);
  const body: Record<string, unknown> = {
    model: opts.model,
    max_tokens: thinking?.maxTokens ?? answerTokens,
    ...(system.length > 0 && { system }),
    messages,
  };
  if (thinking) body.thinking = thinking.thinking;
  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({
      name: t.name,
      ...(t.description !== undefined && { description: t.description }),
      input_schema: t.parameters,
      ...(t.strict !== undefined && { strict: t.strict }),
      ...cacheControl(t.cacheControl),
    }));
  }
  if (req.toolChoice !== undefined) body.tool_choice = toolChoice(req.toolChoice);
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop?.length) body.stop_sequences = req.stop;
  // Anthropic's metadata takes only user_id; the caller's other labels stay in the gateway.
  if (req.metadata?.userId !== undefined) body.metadata = { user_id: req.metadata.userId };
  if (req.responseFormat?.type === 'json_schema') {
    body.output_config = { format: { type: 'json_schema', schema: req.responseFormat.schema } };
  }

  // Vendor passthrough, as is; objects we also set (output_config, metadata) are merged one level
  // deep so e.g. `output_config.effort` does not wipe the response format.
  for (const [k, v] of Object.entries(req.providerOptions?.anthropic ?? {})) {
    const mine = body[k];
    body[k] = isPlainObject(mine) && isPlainObject(v) ? { ...mine, ...v } : v;
  }
  // After the passthrough, so breakpoints sent that way count and are not doubled.
  placeCacheBreakpoints(body, opts.promptCache);
  // The transport mode is ours: the parser on the other end depends on it.
  if (stream) body.stream = true;
  else delete body.stream;
  return body;
}
