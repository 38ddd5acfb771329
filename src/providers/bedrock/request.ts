import {
  GatewayError,
  hasCapability,
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
} from '../../core/index.ts';
import { claudeThinking } from '../shared/claude-thinking.ts';
import type { CallOptions } from '../spec.ts';
import { cachePointBlock, placeCachePoints } from './cache-points.ts';

/** Who signed the reasoning parts this adapter reads and sends back (ReasoningPart.provider). */
export const PROTOCOL = 'bedrock';

/** The answer's allowance when thinking needs a maxTokens and neither the request nor the model config gave one. */
export const DEFAULT_MAX_TOKENS = 4096;

type Block = Record<string, unknown>;
interface WireMessage {
  role: 'user' | 'assistant';
  content: Block[];
}

/** What the body builder needs of the call: the model, its capabilities and the gateway's cache policy. */
export type BodyOptions = Pick<CallOptions, 'model' | 'capabilities' | 'defaultMaxOutputTokens' | 'promptCache'>;

function unsupported(provider: string, param: string, why: string): GatewayError {
  return new GatewayError('unsupported_feature', `${provider}: ${why}`, { provider, param });
}

function invalid(provider: string, param: string, why: string): GatewayError {
  return new GatewayError('invalid_request', `${provider}: ${why}`, { provider, param });
}

/**
 * `encodeURIComponent` plus the characters it leaves that RFC 3986 reserves, as the AWS SDK encodes a path label:
 * a model id (`us.anthropic.claude-…-v1:0`) or an ARN (with `/` and `:`) is one path segment.
 */
export function encodePathLabel(label: string): string {
  return encodeURIComponent(label).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function modelPath(modelId: string, operation: 'converse' | 'converse-stream' | 'invoke'): string {
  return `/model/${encodePathLabel(modelId)}/${operation}`;
}

/** Claude on Bedrock (a base model id, a cross-region profile id, an ARN naming one): thinking is Anthropic's. */
export function isClaude(modelId: string): boolean {
  return /claude/i.test(modelId);
}

const IMAGE_FORMATS: Readonly<Record<string, string>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** Converse takes image bytes (base64 in JSON) or an S3 location, never a web URL: a URL image fails closed. */
function imageBlock(provider: string, p: ImagePart): Block {
  let mediaType = p.mediaType ?? '';
  let data = p.data;
  if (data === undefined) {
    const url = p.url ?? '';
    const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
    if (!m) {
      if (url.startsWith('data:')) throw invalid(provider, 'image', 'image data URLs must be base64 with a media type');
      throw unsupported(provider, 'image', 'Bedrock Converse takes images as inline bytes, not URLs (send the image as base64 data)');
    }
    mediaType = m[1]!;
    data = m[2]!;
  }
  const format = IMAGE_FORMATS[mediaType.toLowerCase()];
  if (format === undefined) throw unsupported(provider, 'image', `Bedrock Converse takes png, jpeg, gif or webp images, not ${mediaType || 'an unknown type'}`);
  return { image: { format, source: { bytes: data } } };
}

interface MapContext {
  provider: string;
  /** Cache markers become checkpoints only on models that cache (Bedrock refuses a cachePoint elsewhere). */
  caching: boolean;
}

function withCachePoint(ctx: MapContext, block: Block, cc: CacheControl | undefined): Block[] {
  return ctx.caching && cc ? [block, cachePointBlock(cc)] : [block];
}

/** Empty text blocks are refused ("text field is blank"), and clients send `content: ""` next to tool calls. */
function contentBlocks(ctx: MapContext, content: string | ContentPart[] | null | undefined): Block[] {
  const out: Block[] = [];
  for (const p of partsOf(content)) {
    if (p.type === 'text') {
      if (p.text !== '') out.push(...withCachePoint(ctx, { text: p.text }, p.cacheControl));
    } else {
      out.push(...withCachePoint(ctx, imageBlock(ctx.provider, p), p.cacheControl));
    }
  }
  return out;
}

/** Converse wants `input` as a JSON object; our arguments are JSON text, so they must parse to one. */
function toolUseBlock(provider: string, call: ToolCall): Block {
  let input: unknown = {};
  if (call.arguments.trim() !== '') {
    try {
      input = JSON.parse(call.arguments);
    } catch {
      throw invalid(provider, 'toolCalls', `arguments of tool call ${call.id} (${call.name}) are not valid JSON`);
    }
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalid(provider, 'toolCalls', `arguments of tool call ${call.id} (${call.name}) must be a JSON object`);
  }
  return { toolUse: { toolUseId: call.id, name: call.name, input } };
}

/**
 * The turn's signed reasoning, first in the assistant message (Claude refuses a thinking turn whose reasoning was
 * moved or dropped). Unsigned parts and other vendors' signatures are left out: they would only get a 400.
 */
function reasoningBlocks(parts: readonly ReasoningPart[] | undefined): Block[] {
  return reasoningPartsFor(parts, PROTOCOL).map((p) =>
    p.redacted === true
      ? { reasoningContent: { redactedContent: p.signature } }
      : { reasoningContent: { reasoningText: { text: p.text, signature: p.signature } } },
  );
}

function toWire(ctx: MapContext, m: Exclude<Message, { role: 'system' }>): WireMessage {
  switch (m.role) {
    case 'user':
      return { role: 'user', content: contentBlocks(ctx, m.content) };
    case 'assistant':
      return {
        role: 'assistant',
        content: [
          ...reasoningBlocks(m.reasoningParts),
          ...contentBlocks(ctx, m.content),
          ...(m.toolCalls ?? []).map((c) => toolUseBlock(ctx.provider, c)),
        ],
      };
    case 'tool': {
      const parts = partsOf(m.content) as TextPart[];
      const result = { toolResult: { toolUseId: m.toolCallId, content: parts.filter((p) => p.text !== '').map((p) => ({ text: p.text })) } };
      return { role: 'user', content: withCachePoint(ctx, result, parts.findLast((p) => p.cacheControl)?.cacheControl) };
    }
  }
}

/** Roles must alternate, so neighbours of one role (several tool results, a result then a user note) merge. */
function mapMessages(ctx: MapContext, messages: readonly Message[]): { system: Block[]; messages: WireMessage[] } {
  const system: Block[] = [];
  const out: WireMessage[] = [];
  for (const m of messages) {
    if (m.role === 'system') {
      system.push(...contentBlocks(ctx, m.content));
      continue;
    }
    const w = toWire(ctx, m);
    const last = out.at(-1);
    if (last && last.role === w.role) last.content.push(...w.content);
    else out.push(w);
  }
  return { system, messages: out };
}

const hasToolBlocks = (messages: readonly WireMessage[]): boolean =>
  messages.some((m) => m.content.some((b) => b.toolUse !== undefined || b.toolResult !== undefined));

/**
 * tools → toolConfig. Converse has no "none" choice: without tool history the tools are left out, so the model
 * cannot call one; with tool history Bedrock insists on the toolConfig, which would let the model call a tool
 * anyway, so that request fails closed (unsupported_feature) instead.
 */
function toolConfig(ctx: MapContext, req: ChatRequest, messages: readonly WireMessage[]): Block | undefined {
  const tools = req.tools ?? [];
  if (req.toolChoice === 'none') {
    if (tools.length > 0 && hasToolBlocks(messages)) {
      throw unsupported(ctx.provider, 'toolChoice', 'Bedrock Converse has no "none" tool choice, and a conversation with tool calls must offer its tools');
    }
    return undefined;
  }
  if (tools.length === 0) return undefined;
  const specs = tools.flatMap((t) =>
    withCachePoint(
      ctx,
      {
        toolSpec: {
          name: t.name,
          ...(t.description !== undefined && { description: t.description }),
          inputSchema: { json: t.parameters },
          ...(t.strict !== undefined && { strict: t.strict }),
        },
      },
      t.cacheControl,
    ),
  );
  const choice = req.toolChoice;
  let toolChoice: Block | undefined;
  if (choice === 'auto') toolChoice = { auto: {} };
  else if (choice === 'required') toolChoice = { any: {} };
  else if (typeof choice === 'object') toolChoice = { tool: { name: choice.name } };
  return { tools: specs, ...(toolChoice && { toolChoice }) };
}

/**
 * With thinking on, Claude refuses a tool-result turn whose assistant message lacks its own signed reasoning. A turn
 * another vendor (or a non-thinking call) made has none, so that one request goes without thinking.
 */
/** reasoningEffort → Claude's extended thinking (`additionalModelRequestFields.thinking`); other Bedrock models have no such field: fail closed. */
function thinkingConfig(provider: string, req: ChatRequest, opts: BodyOptions, answerTokens: number): { thinking: Block; maxTokens: number } | undefined {
  if (req.reasoningEffort === undefined) return undefined;
  if (!isClaude(opts.model)) {
    throw unsupported(provider, 'reasoningEffort', `reasoningEffort is mapped for Claude models on Bedrock only, not ${opts.model}`);
  }
  return claudeThinking(provider, PROTOCOL, req, answerTokens);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The Converse (and ConverseStream: the same body) request for a ChatRequest; the model goes in the path. Throws
 * unsupported_feature for what Converse cannot express (seed, json_object, URL images) rather than dropping it.
 * A JSON schema response format maps to Converse's own structured output (`outputConfig.textFormat`).
 */
export function buildConverseBody(req: ChatRequest, opts: BodyOptions, provider: string): Record<string, unknown> {
  if (req.seed !== undefined) throw unsupported(provider, 'seed', 'Bedrock Converse has no seed parameter');
  if (req.responseFormat?.type === 'json_object') {
    throw unsupported(provider, 'json_object', 'Bedrock Converse has no json_object response format (use json_schema)');
  }
  if (req.temperature !== undefined && req.temperature > 1) throw invalid(provider, 'temperature', 'Bedrock Converse accepts temperature between 0 and 1');

  const ctx: MapContext = { provider, caching: hasCapability(opts.capabilities, 'prompt_caching') };
  const { system, messages } = mapMessages(ctx, req.messages);
  const answerTokens = req.maxOutputTokens ?? opts.defaultMaxOutputTokens;
  const thinking = thinkingConfig(provider, req, opts, answerTokens ?? DEFAULT_MAX_TOKENS);
  const inference: Block = {
    ...((thinking?.maxTokens ?? answerTokens) !== undefined && { maxTokens: thinking?.maxTokens ?? answerTokens }),
    ...(req.temperature !== undefined && { temperature: req.temperature }),
    ...(req.topP !== undefined && { topP: req.topP }),
    ...(req.stop !== undefined && req.stop.length > 0 && { stopSequences: req.stop }),
  };
  const tools = toolConfig(ctx, req, messages);
  const body: Record<string, unknown> = {
    messages,
    ...(system.length > 0 && { system }),
    ...(Object.keys(inference).length > 0 && { inferenceConfig: inference }),
    ...(tools && { toolConfig: tools }),
    ...(thinking && { additionalModelRequestFields: { thinking: thinking.thinking } }),
  };
  if (req.responseFormat?.type === 'json_schema') {
    const f = req.responseFormat;
    body.outputConfig = {
      textFormat: {
        type: 'json_schema',
        // The schema travels as JSON text, not as an object.
        structure: { jsonSchema: { schema: JSON.stringify(f.schema), name: f.name, ...(f.description !== undefined && { description: f.description }) } },
      },
    };
  }
  // Vendor passthrough, as is; objects we also set (inferenceConfig, additionalModelRequestFields…) merge one level
  // deep so e.g. `additionalModelRequestFields.top_k` does not wipe the thinking config.
  for (const [k, v] of Object.entries(req.providerOptions?.bedrock ?? {})) {
    const mine = body[k];
    body[k] = isPlainObject(mine) && isPlainObject(v) ? { ...mine, ...v } : v;
  }
  // After the passthrough, so checkpoints sent that way count and are not doubled.
  if (ctx.caching) placeCachePoints(body, opts.promptCache);
  return body;
}
