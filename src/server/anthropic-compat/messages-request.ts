import {
  assertJsonDepth,
  ChatRequestSchema,
  GatewayError,
  invalidRequestOf,
  type CacheControl,
  type ChatRequest,
  type ContentPart,
  type ImagePart,
  type Message,
  type ReasoningPart,
  type TextPart,
  type ToolCall,
  type ReasoningEffort,
  type ToolChoice,
  type ToolMessage,
  type IssueLike,
  presentKeysParser,
} from '../../core/index.ts';
import type { GatewayRequest } from '../../gateway/gateway-request.ts';
import {
  CountTokensBodySchema,
  MessagesBodySchema,
  UNSUPPORTED_FIELDS,
  type CountTokensBody,
  type InboundCacheControl,
  type InboundImageBlock,
  type InboundMessage,
  type InboundTextBlock,
  type MessagesBody,
} from './messages-schema.ts';
import { effortOfBudget, partOfSignature } from './thinking-blocks.ts';

/**
 * The inbound side of the Anthropic Messages endpoint: a Messages API body → the gateway's request, so it
 * runs through the same pipeline as REST and GraphQL and may go to any protocol's target. Independent of
 * the anthropic adapter (which goes the other way) so a bug in one cannot hide in the other.
 *
 * What the contract has no place for yet travels in `providerOptions` for the protocols that can take it
 * (top_k, disable_parallel_tool_use, cache_control on the whole prompt, service_tier,
 * output_config.effort, and Anthropic's exact thinking budget beside the contract's reasoning effort);
 * what no target can take through the gateway (documents, Files API references, server tools, container /
 * MCP parameters) is refused by name.
 */

type Json = Record<string, unknown>;

const isRecord = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

const MESSAGES_FIELDS = new Set(Object.keys(MessagesBodySchema.shape));
const COUNT_FIELDS = new Set(Object.keys(CountTokensBodySchema.shape));

function unsupported(param: string, why: string): GatewayError {
  return new GatewayError('unsupported_feature', `${param}: ${why}`, { param });
}

/** Unknown parameters are refused by name: ignoring one would answer a different request than the one asked. */
function refuseUnknownFields(raw: Json, known: ReadonlySet<string>): void {
  for (const k of Object.keys(raw)) {
    if (known.has(k)) continue;
    const why = UNSUPPORTED_FIELDS[k];
    if (why !== undefined) throw unsupported(k, why);
    throw new GatewayError('invalid_request', `${k}: unknown field (not a Messages API parameter this gateway accepts here)`, { param: k });
  }
}

/**
 * Free-form JSON (tool schemas, tool_use inputs sent back, the response schema) nested past MAX_JSON_DEPTH
 * is refused on the raw body, before anything walks it recursively; server tools are refused by name.
 */
function refuseRawProblems(raw: Json): void {
  if (Array.isArray(raw.tools)) {
    raw.tools.forEach((t: unknown, i) => {
      if (isRecord(t) && t.type !== undefined && t.type !== 'custom') {
        throw unsupported(`tools[${i}]`, `server tool type ${JSON.stringify(t.type)} is not supported; only custom tools (name, description, input_schema) are`);
      }
      assertJsonDepth(t, `tools[${i}]`);
    });
  }
  if (isRecord(raw.output_config)) assertJsonDepth(raw.output_config, 'output_config');
  if (!Array.isArray(raw.messages)) return;
  raw.messages.forEach((m: unknown, i) => {
    if (!isRecord(m) || !Array.isArray(m.content)) return;
    m.content.forEach((b: unknown, j) => {
      if (isRecord(b) && b.type === 'tool_use') assertJsonDepth(b.input, `messages[${i}].content[${j}].input`);
    });
  });
}

const cacheOf = (c: InboundCacheControl): { cacheControl?: CacheControl } =>
  c ? { cacheControl: { type: 'ephemeral', ...(c.ttl !== undefined && { ttl: c.ttl }) } } : {};

const textPart = (b: InboundTextBlock): TextPart => ({ type: 'text', text: b.text, ...cacheOf(b.cache_control) });

function imagePart(b: InboundImageBlock, where: string): ImagePart {
  const s = b.source;
  if (s.type === 'base64') return { type: 'image', data: s.data, mediaType: s.media_type, ...cacheOf(b.cache_control) };
  if (s.type === 'url') return { type: 'image', url: s.url, ...cacheOf(b.cache_control) };
  throw unsupported(`${where}.source`, 'Files API references (file_id) are not supported: send the image as base64 or a URL');
}

function documentRefused(where: string): GatewayError {
  return unsupported(where, 'document blocks (PDF, plain text) are not supported: no target of this gateway can receive a document yet');
}

/** The contract's tool results are text: an error result says so in its text, which every target then reads. */
const ERROR_PREFIX = 'Error: ';

type AssistantBlocks = Exclude<Extract<InboundMessage, { role: 'assistant' }>['content'], string>;
type UserBlocks = Exclude<Extract<InboundMessage, { role: 'user' }>['content'], string>;
type ToolResultBlock = Extract<UserBlocks[number], { type: 'tool_result' }>;

/**
 * Anthropic's conversation → the contract's. A user turn's tool_result blocks become tool messages (named
 * after their tool_use, which Gemini and Ollama need) followed by the turn's other blocks; images inside a
 * tool_result follow the results as image parts, since the contract's tool results carry text only.
 */
class ConversationMapper {
  readonly messages: Message[] = [];
  private readonly toolNames = new Map<string, string>();

  add(m: InboundMessage, i: number): void {
    if (typeof m.content === 'string') {
      this.messages.push({ role: m.role, content: m.content });
      return;
    }
    if (m.role === 'assistant') this.assistant(m.content, i);
    else this.user(m.content, i);
  }

  private assistant(blocks: AssistantBlocks, i: number): void {
    const parts: TextPart[] = [];
    const calls: ToolCall[] = [];
    const reasoning: ReasoningPart[] = [];
    blocks.forEach((b, j) => {
      const where = `messages[${i}].content[${j}]`;
      switch (b.type) {
        case 'text':
          parts.push(textPart(b));
          break;
        case 'tool_use':
          this.toolNames.set(b.id, b.name);
          calls.push({ id: b.id, name: b.name, arguments: JSON.stringify(b.input) });
          break;
        // Signed reasoning goes back to the protocol that signed it (thinking-blocks.ts), which needs it to continue.
        case 'thinking':
          reasoning.push({ text: b.thinking, ...partOfSignature(b.signature, `${where}.signature`) });
          break;
        case 'redacted_thinking': {
          const signed = partOfSignature(b.data, `${where}.data`);
          if (signed.signature === undefined) throw new GatewayError('invalid_request', `${where}.data: a redacted_thinking block needs its data`, { param: `${where}.data` });
          reasoning.push({ text: '', redacted: true, ...signed });
          break;
        }
      }
    });
    this.messages.push({
      role: 'assistant',
      content: parts.length > 0 ? parts : null,
      ...(calls.length > 0 && { toolCalls: calls }),
      ...(reasoning.length > 0 && { reasoningParts: reasoning }),
    });
  }

  private user(blocks: UserBlocks, i: number): void {
    const results: ToolMessage[] = [];
    const parts: ContentPart[] = [];
    const moved: ImagePart[] = [];
    blocks.forEach((b, j) => {
      const where = `messages[${i}].content[${j}]`;
      switch (b.type) {
        case 'text':
          parts.push(textPart(b));
          break;
        case 'image':
          parts.push(imagePart(b, where));
          break;
        case 'document':
          throw documentRefused(where);
        case 'tool_result':
          results.push(this.toolResult(b, where, moved));
          break;
      }
    });
    this.messages.push(...results);
    if (parts.length > 0 || moved.length > 0 || results.length === 0) this.messages.push({ role: 'user', content: [...moved, ...parts] });
  }

  private toolResult(b: ToolResultBlock, where: string, moved: ImagePart[]): ToolMessage {
    const name = this.toolNames.get(b.tool_use_id);
    const base = { role: 'tool' as const, toolCallId: b.tool_use_id, ...(name !== undefined && { name }) };
    const prefix = b.is_error === true ? ERROR_PREFIX : '';
    if (typeof b.content !== 'object') {
      const text = prefix + (b.content ?? '');
      return { ...base, content: b.cache_control ? [{ type: 'text', text, ...cacheOf(b.cache_control) }] : text };
    }
    const parts: TextPart[] = prefix ? [{ type: 'text', text: prefix.trim() }] : [];
    b.content.forEach((c, k) => {
      if (c.type === 'text') parts.push(textPart(c));
      else if (c.type === 'image') moved.push(imagePart(c, `${where}.content[${k}]`));
      else throw documentRefused(`${where}.content[${k}]`);
    });
    // The block's breakpoint ends where its content ends: on its last text part.
    const last = parts.at(-1);
    if (b.cache_control && last) parts[parts.length - 1] = { ...last, ...cacheOf(b.cache_control) };
    return { ...base, content: parts };
  }
}

/** Merges `value` into `options[protocol]` (creating the entry). */
function setOption(options: Record<string, Json>, protocol: string, key: string, value: unknown): void {
  (options[protocol] ??= {})[key] = value;
}

function toolChoiceOf(c: NonNullable<CountTokensBody['tool_choice']>): ToolChoice {
  switch (c.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { type: 'tool', name: c.name };
  }
}

/**
 * `thinking` → the contract's reasoning effort, so every target thinks (OpenAI reasoning_effort, Gemini's
 * thinking budget by effort). Anthropic's max_tokens counts thinking, the contract's max output is the
 * answer's own allowance (adapters add their budget on top), so it is max_tokens less the budget. Anthropic
 * targets get `thinking` and max_tokens exactly as sent instead of the effort's budget.
 */
function thinkingOf(body: CountTokensBody & Partial<MessagesBody>, options: Record<string, Json>): { effort?: ReasoningEffort; answerTokens?: number } {
  const t = body.thinking;
  if (!t || t.type === 'disabled') return {};
  if (body.max_tokens !== undefined) setOption(options, 'anthropic', 'max_tokens', body.max_tokens);
  if (t.type === 'adaptive') {
    // The adapter sets {type: 'enabled', budget_tokens} and merges this over it: the budget must go (undefined is not sent).
    setOption(options, 'anthropic', 'thinking', { ...t, budget_tokens: undefined });
    return { effort: 'medium' };
  }
  setOption(options, 'anthropic', 'thinking', t);
  return {
    effort: effortOfBudget(t.budget_tokens),
    ...(body.max_tokens !== undefined && { answerTokens: Math.max(1, body.max_tokens - t.budget_tokens) }),
  };
}

/** The parts of a body both endpoints share → ChatRequest fields and provider options. */
function chatOf(body: CountTokensBody & Partial<MessagesBody>): ChatRequest {
  const options: Record<string, Json> = {};
  const conversation = new ConversationMapper();
  const system = body.system;
  if (typeof system === 'string') {
    if (system !== '') conversation.messages.push({ role: 'system', content: system });
  } else if (system && system.length > 0) {
    conversation.messages.push({ role: 'system', content: system.map(textPart) });
  }
  body.messages.forEach((m, i) => conversation.add(m, i));

  const choice = body.tool_choice;
  if (choice && choice.type !== 'none' && choice.disable_parallel_tool_use === true) {
    setOption(options, 'anthropic', 'tool_choice', { disable_parallel_tool_use: true });
    setOption(options, 'openai', 'parallel_tool_calls', false);
  }
  const thinking = thinkingOf(body, options);
  if (body.cache_control) setOption(options, 'anthropic', 'cache_control', body.cache_control);
  const { format, ...outputRest } = body.output_config ?? {};
  if (Object.keys(outputRest).length > 0) setOption(options, 'anthropic', 'output_config', outputRest);
  if (body.top_k !== undefined) {
    setOption(options, 'anthropic', 'top_k', body.top_k);
    setOption(options, 'gemini', 'generationConfig', { topK: body.top_k });
    setOption(options, 'ollama', 'options', { top_k: body.top_k });
  }
  if (body.service_tier !== undefined) setOption(options, 'anthropic', 'service_tier', body.service_tier);

  return {
    messages: conversation.messages,
    ...(body.tools && {
      tools: body.tools.map((t) => ({
        name: t.name,
        ...(t.description !== undefined && { description: t.description }),
        parameters: t.input_schema,
        ...(t.strict !== undefined && { strict: t.strict }),
        ...cacheOf(t.cache_control),
      })),
    }),
    ...(choice && { toolChoice: toolChoiceOf(choice) }),
    ...(format && { responseFormat: { type: 'json_schema' as const, name: 'response', schema: format.schema } }),
    ...(thinking.effort !== undefined && { reasoningEffort: thinking.effort }),
    ...(body.max_tokens !== undefined && { maxOutputTokens: thinking.answerTokens ?? body.max_tokens }),
    ...(body.temperature !== undefined && { temperature: body.temperature }),
    ...(body.top_p !== undefined && { topP: body.top_p }),
    ...(body.stop_sequences?.length && { stop: body.stop_sequences }),
    ...(body.metadata?.user_id != null && { metadata: { userId: body.metadata.user_id } }),
    ...(Object.keys(options).length > 0 && { providerOptions: options }),
  };
}

type Issue = IssueLike & { code?: string; errors?: Issue[][] };

/**
 * The issue to report. A value that matches no branch of a union (content as a string or a list of blocks)
 * is one `invalid_union` issue saying only "Invalid input"; the branch that got furthest into the value is
 * the one the client meant, so its first issue, under the union's path, names the real problem.
 */
function specific(issue: Issue): IssueLike {
  if (issue.code !== 'invalid_union' || !issue.errors?.length) return issue;
  let best: Issue | undefined;
  for (const branch of issue.errors) {
    const first = branch[0];
    if (first && (!best || first.path.length > best.path.length)) best = first;
  }
  if (!best) return issue;
  const inner = specific(best);
  return { message: inner.message, path: [...issue.path, ...inner.path] };
}

function invalidOf(issues: readonly Issue[]): GatewayError {
  return invalidRequestOf(issues.length > 0 ? [specific(issues[0]!)] : issues);
}

/**
 * The contract's own rules (tool names, image parts, JSON depth, a response format's default name) on the
 * normalized request, when the body has a part they could fail on. Text messages and sampling parameters
 * are held to the same bounds by MessagesBodySchema (or stricter ones: temperature ≤ 1), and chatOf builds
 * them from its own fields, so for a request of only those the second zod pass could change nothing; on
 * REST (chat-request.ts) skipping it was a visible share of a plain request's parse.
 */
function checked(body: CountTokensBody, chat: ChatRequest): ChatRequest {
  if (!needsContractCheck(body)) return chat;
  const r = ChatRequestSchema.safeParse(chat);
  if (!r.success) throw invalidRequestOf(r.error.issues);
  return r.data;
}

function needsContractCheck(body: CountTokensBody): boolean {
  if (body.tools !== undefined || body.tool_choice !== undefined || body.thinking !== undefined || body.output_config !== undefined) return true;
  for (const m of body.messages) {
    if (typeof m.content === 'string') continue;
    for (const b of m.content) if (b.type !== 'text') return true;
  }
  return false;
}

function prepareRaw(raw: unknown, known: ReadonlySet<string>): Json {
  if (!isRecord(raw)) throw new GatewayError('invalid_request', 'body: expected a JSON object', { param: 'body' });
  refuseUnknownFields(raw, known);
  refuseRawProblems(raw);
  return raw;
}

const parseMessages = presentKeysParser(MessagesBodySchema);

/** A `POST /v1/messages` body → the gateway's request; every problem is an error naming the field. */
export function parseMessagesBody(raw: unknown): { request: GatewayRequest; stream: boolean; body: MessagesBody } {
  const parsed = parseMessages(prepareRaw(raw, MESSAGES_FIELDS));
  if (!parsed.success) throw invalidOf(parsed.error.issues as Issue[]);
  const body = parsed.data;
  const { task, ...constraints } = body.switchboard ?? {};
  return {
    request: {
      chat: checked(body, chatOf(body)),
      model: body.model,
      ...(task !== undefined && { task }),
      ...(Object.keys(constraints).length > 0 && { constraints }),
    },
    stream: body.stream === true,
    body,
  };
}

/** A `POST /v1/messages/count_tokens` body → the request whose input would be counted. */
export function parseCountTokensBody(raw: unknown): GatewayRequest {
  const parsed = CountTokensBodySchema.safeParse(prepareRaw(raw, COUNT_FIELDS));
  if (!parsed.success) throw invalidOf(parsed.error.issues as Issue[]);
  return { chat: checked(parsed.data, chatOf(parsed.data)), model: parsed.data.model };
}
