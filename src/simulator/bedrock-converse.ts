import { countTokens, planReply, type PlannedReply, type PrefixCache, type ToolOffer } from './reply.ts';
import { planThinking, wantsRedacted, type PlannedThinking, type ThoughtSigner } from './thinking.ts';

/**
 * The Converse request as the Bedrock simulator reads it: validation in the service's own words (a 400
 * ValidationException), the prompt, tools, cache checkpoints, thinking and the reply plan. Shared by Converse and
 * ConverseStream, whose bodies are the same.
 *
 * Token accounting (the same streamed or not):
 * - input = per tool countTokens(name + description + schema JSON); countTokens of each system text, + 3 when a system
 *   prompt is given; per message countTokens of each block's text (text, toolUse name + input JSON, toolResult text,
 *   reasoning text) + 3; an image counts IMAGE_TOKENS.
 * - caching (Claude and Nova models): the prefix up to the last `cachePoint` (tools → system → messages) is looked up
 *   in the PrefixCache by model and content: the first time `cacheWriteInputTokens`, then `cacheReadInputTokens`;
 *   `inputTokens` is the rest, as Bedrock reports it (totalTokens = input + output + cache read + cache write).
 * - output = the plan's tokens plus the thinking's.
 */

type Json = Record<string, unknown>;

export class ValidationError extends Error {}

const fail = (message: string): never => {
  throw new ValidationError(message);
};

/** What an image costs in the simulator's accounting (a flat figure; the real count depends on its size). */
export const IMAGE_TOKENS = 85;
const MAX_CACHE_POINTS = 4;
const FIVE_MINUTES_MS = 5 * 60_000;
const HOUR_MS = 60 * 60_000;
const IMAGE_FORMATS = new Set(['png', 'jpeg', 'gif', 'webp']);
/** Reasoning signatures this simulator issues cover the reasoning text under this scope. */
const REASONING_SCOPE = 'bedrock-reasoning';
const REDACTED_SCOPE = 'bedrock-redacted';

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Segment {
  key: string;
  tokens: number;
  /** Set on a cache checkpoint (it carries no tokens of its own). */
  cache?: '5m' | '1h' | undefined;
}

export interface ConverseRequest {
  model: string;
  maxTokens: number | undefined;
  stopSequences: string[];
  segments: Segment[];
  prompt: string;
  toolResult: string | undefined;
  tools: ToolOffer[];
  forcedTool: string | undefined;
  json: Json | undefined;
  thinking: boolean;
}

export interface ConverseOutcome {
  reply: PlannedReply;
  thinking: PlannedThinking | undefined;
  redacted: boolean;
  stopReason: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';
}

/** Models that take cachePoint blocks on Bedrock. */
const caches = (model: string): boolean => /claude|nova/i.test(model);
const isClaude = (model: string): boolean => /claude/i.test(model);

function cachePoint(b: Json, where: string, model: string): '5m' | '1h' {
  const cp = b.cachePoint;
  if (!isObject(cp) || cp.type !== 'default') fail(`${where}.cachePoint.type: Member must satisfy enum value set: [default]`);
  if (!caches(model)) fail(`${where}: The model ${model} does not support prompt caching (cachePoint).`);
  const ttl = (cp as Json).ttl;
  if (ttl !== undefined && ttl !== '5m' && ttl !== '1h') fail(`${where}.cachePoint.ttl: Member must satisfy enum value set: [5m, 1h]`);
  return ttl === '1h' ? '1h' : '5m';
}

function base64Bytes(v: unknown, where: string): number {
  if (typeof v !== 'string' || v === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(v)) fail(`${where}: Invalid base64 data`);
  return Buffer.from(v as string, 'base64').length;
}

/** The text of a toolResult's content (text and json members). */
function toolResultText(content: unknown, where: string): string {
  if (!Array.isArray(content)) fail(`${where}.content: Member must not be null`);
  return (content as unknown[])
    .map((c, i) => {
      if (!isObject(c)) fail(`${where}.content.${i}: Member must be a structure`);
      if (typeof (c as Json).text === 'string') return (c as Json).text as string;
      if ((c as Json).json !== undefined) return JSON.stringify((c as Json).json);
      return '';
    })
    .join('\n');
}

/** A reasoning block sent back must carry a signature (or redacted data) this simulator issued, unchanged. */
function checkReasoning(b: Json, where: string, signer: ThoughtSigner): string {
  const r = b.reasoningContent;
  if (!isObject(r)) fail(`${where}.reasoningContent: Member must be a structure`);
  const rc = r as Json;
  if (isObject(rc.reasoningText)) {
    const { text, signature } = rc.reasoningText;
    if (typeof text !== 'string') fail(`${where}.reasoningContent.reasoningText.text: Member must not be null`);
    if (!signer.verify(REASONING_SCOPE, text as string, signature)) {
      fail(`The model returned the following errors: ${where}: Invalid \`signature\` in \`thinking\` block`);
    }
    return text as string;
  }
  if (typeof rc.redactedContent === 'string') {
    if (signer.open(REDACTED_SCOPE, Buffer.from(rc.redactedContent, 'base64').toString('utf8')) === undefined) {
      fail(`The model returned the following errors: ${where}: Invalid \`data\` in \`redacted_thinking\` block`);
    }
    return '';
  }
  return fail(`${where}.reasoningContent: exactly one of reasoningText or redactedContent must be set`);
}

/** Reads the blocks of one message into segments; returns the texts and tool results it holds. */
function readContent(m: Json, i: number, ctx: { model: string; signer: ThoughtSigner; segments: Segment[] }): { texts: string[]; results: string[]; uses: string[] } {
  const role = m.role as string;
  if (!Array.isArray(m.content) || m.content.length === 0) fail(`messages.${i}.content: Member must have length greater than or equal to 1`);
  const texts: string[] = [];
  const results: string[] = [];
  const uses: string[] = [];
  let first = true;
  (m.content as unknown[]).forEach((b, j) => {
    const where = `messages.${i}.content.${j}`;
    if (!isObject(b)) fail(`${where}: Member must be a structure`);
    const block = b as Json;
    const members = Object.keys(block).filter((k) => block[k] !== undefined && block[k] !== null);
    if (members.length !== 1) fail(`${where}: exactly one member of ContentBlock must be set, found ${members.length}`);
    const extra = first ? 3 : 0;
    let text: string;
    let tokens: number;
    switch (members[0]) {
      case 'cachePoint':
        ctx.segments.push({ key: 'cachePoint', tokens: 0, cache: cachePoint(block, where, ctx.model) });
        return;
      case 'text':
        if (typeof block.text !== 'string' || block.text.trim() === '') fail(`The text field in the ContentBlock object at ${where} is blank. Add text to the text field, and try again.`);
        text = block.text as string;
        texts.push(text);
        tokens = countTokens(text);
        break;
      case 'image': {
        if (role !== 'user') fail(`${where}: images are only allowed in user messages`);
        const img = block.image;
        if (!isObject(img) || !IMAGE_FORMATS.has(String(img.format))) fail(`${where}.image.format: Member must satisfy enum value set: [gif, jpeg, png, webp]`);
        const src = (img as Json).source;
        if (!isObject(src)) fail(`${where}.image.source: Member must not be null`);
        const size = base64Bytes((src as Json).bytes, `${where}.image.source.bytes`);
        text = `image:${String((img as Json).format)}:${size}:${String((src as Json).bytes).slice(0, 64)}`;
        tokens = IMAGE_TOKENS;
        break;
      }
      case 'toolUse': {
        const u = block.toolUse;
        if (!isObject(u) || typeof u.toolUseId !== 'string' || typeof u.name !== 'string') fail(`${where}.toolUse: toolUseId and name are required`);
        if (!isObject((u as Json).input)) fail(`${where}.toolUse.input: must be a JSON object`);
        uses.push((u as Json).toolUseId as string);
        text = `${String((u as Json).name)} ${JSON.stringify((u as Json).input)}`;
        tokens = countTokens(text);
        break;
      }
      case 'toolResult': {
        const r = block.toolResult;
        if (!isObject(r) || typeof r.toolUseId !== 'string') fail(`${where}.toolResult.toolUseId: Member must not be null`);
        text = toolResultText((r as Json).content, `${where}.toolResult`);
        results.push(text);
        tokens = countTokens(text);
        break;
      }
      case 'reasoningContent':
        if (role !== 'assistant') fail(`${where}: reasoningContent is only allowed in assistant messages`);
        text = checkReasoning(block, where, ctx.signer);
        tokens = countTokens(text);
        break;
      default:
        return fail(`${where}: The content block type ${String(members[0])} is not supported by the simulator`);
    }
    ctx.segments.push({ key: `${role}\u0000${i}\u0000${String(members[0])}\u0000${text}`, tokens: tokens + extra });
    first = false;
  });
  return { texts, results, uses };
}

/** With thinking on, the assistant turn whose tool calls are being answered must start with its reasoning. */
function checkToolTurn(messages: readonly Json[]): void {
  const last = messages.at(-1);
  if (!last || last.role !== 'user' || !(last.content as Json[]).some((b) => isObject(b) && b.toolResult !== undefined)) return;
  const i = messages.length - 2;
  const turn = messages[i];
  if (!turn || turn.role !== 'assistant') return;
  const blocks = turn.content as Json[];
  if (!blocks.some((b) => isObject(b) && b.toolUse !== undefined)) return;
  if (isObject(blocks[0]) && blocks[0].reasoningContent !== undefined) return;
  const found = isObject(blocks[0]) && blocks[0].toolUse !== undefined ? 'tool_use' : 'text';
  fail(
    `The model returned the following errors: messages.${i}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${found}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`.`,
  );
}

function parseThinking(body: Json, model: string, maxTokens: number | undefined): boolean {
  const extra = body.additionalModelRequestFields;
  if (extra === undefined || extra === null) return false;
  if (!isObject(extra)) return fail('additionalModelRequestFields: must be a JSON object');
  const t = extra.thinking;
  if (t === undefined || t === null) return false;
  if (!isClaude(model)) fail(`The model returned the following errors: Malformed input request: extraneous key [thinking] is not permitted`);
  if (!isObject(t) || (t.type !== 'enabled' && t.type !== 'disabled')) fail(`The model returned the following errors: thinking.type: Input should be 'enabled' or 'disabled'`);
  if ((t as Json).type === 'disabled') return false;
  const budget = (t as Json).budget_tokens;
  if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1024) {
    fail('The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
  }
  if (maxTokens === undefined || (budget as number) >= maxTokens) {
    fail('The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`.');
  }
  return true;
}

/** Reads a Converse body; throws ValidationError with the service's message for anything it would refuse. */
export function parseConverse(body: unknown, model: string, signer: ThoughtSigner): ConverseRequest {
  if (!isObject(body)) return fail('Request body must be a JSON object');
  const segments: Segment[] = [];

  const tools: ToolOffer[] = [];
  let forcedTool: string | undefined;
  const tc = body.toolConfig;
  if (tc !== undefined) {
    if (!isObject(tc) || !Array.isArray(tc.tools) || tc.tools.length === 0) fail('toolConfig.tools: Member must have length greater than or equal to 1');
    ((tc as Json).tools as unknown[]).forEach((t, i) => {
      if (isObject(t) && t.cachePoint !== undefined) {
        segments.push({ key: 'cachePoint', tokens: 0, cache: cachePoint(t, `toolConfig.tools.${i}`, model) });
        return;
      }
      const spec = isObject(t) ? t.toolSpec : undefined;
      if (!isObject(spec) || typeof spec.name !== 'string' || !isObject(spec.inputSchema) || !isObject(spec.inputSchema.json)) {
        fail(`toolConfig.tools.${i}.toolSpec: name and inputSchema.json are required`);
      }
      const s = spec as Json;
      const schema = (s.inputSchema as Json).json as Json;
      const description = typeof s.description === 'string' ? s.description : '';
      segments.push({ key: `tool\u0000${String(s.name)}\u0000${description}\u0000${JSON.stringify(schema)}`, tokens: countTokens(`${String(s.name)} ${description} ${JSON.stringify(schema)}`) });
      tools.push({ name: s.name as string, parameters: schema });
    });
    const choice = (tc as Json).toolChoice;
    if (choice !== undefined) {
      if (isObject(choice) && isObject(choice.any)) forcedTool = '*';
      else if (isObject(choice) && isObject(choice.tool) && typeof choice.tool.name === 'string') {
        if (!tools.some((t) => t.name === (choice.tool as Json).name)) fail(`toolConfig.toolChoice.tool.name: tool ${String(choice.tool.name)} is not among the tools`);
        forcedTool = choice.tool.name;
      } else if (!(isObject(choice) && isObject(choice.auto))) fail('toolConfig.toolChoice: exactly one of auto, any or tool must be set');
    }
  }

  if (body.system !== undefined) {
    if (!Array.isArray(body.system)) fail('system: Member must be a list');
    (body.system as unknown[]).forEach((b, i) => {
      if (isObject(b) && b.cachePoint !== undefined) {
        segments.push({ key: 'cachePoint', tokens: 0, cache: cachePoint(b, `system.${i}`, model) });
        return;
      }
      if (!isObject(b) || typeof b.text !== 'string' || b.text.trim() === '') fail(`The text field in the SystemContentBlock object at system.${i} is blank.`);
      segments.push({ key: `system\u0000${String((b as Json).text)}`, tokens: countTokens((b as Json).text as string) + (i === 0 ? 3 : 0) });
    });
  }

  if (!Array.isArray(body.messages) || body.messages.length === 0) fail('messages: Member must have length greater than or equal to 1');
  const messages = body.messages as Json[];
  let prompt = '';
  let toolResult: string | undefined;
  let pendingUses: string[] = [];
  messages.forEach((m, i) => {
    if (!isObject(m) || (m.role !== 'user' && m.role !== 'assistant')) fail(`messages.${i}.role: Member must satisfy enum value set: [user, assistant]`);
    if (i === 0 && m.role !== 'user') fail('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
    if (i > 0 && messages[i - 1]!.role === m.role) fail('A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.');
    const { texts, results, uses } = readContent(m, i, { model, signer, segments });
    if (m.role === 'user') {
      const answered = (m.content as Json[]).flatMap((b) => (isObject(b) && isObject(b.toolResult) ? [String(b.toolResult.toolUseId)] : []));
      for (const id of answered) {
        if (!pendingUses.includes(id)) fail(`messages.${i}: toolResult blocks reference tool use id ${id}, which the previous assistant turn did not make.`);
      }
      if (texts.length > 0) prompt = texts.join('\n');
      toolResult = results.length > 0 ? results.join('\n') : undefined;
    }
    pendingUses = uses;
  });
  const hasToolBlocks = messages.some((m) => (m.content as Json[]).some((b) => isObject(b) && (b.toolUse !== undefined || b.toolResult !== undefined)));
  if (hasToolBlocks && tc === undefined) fail('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  if (messages.at(-1)!.role !== 'user') toolResult = undefined;

  const points = segments.filter((s) => s.cache !== undefined).length;
  if (points > MAX_CACHE_POINTS) fail(`A maximum of ${MAX_CACHE_POINTS} blocks with cache_control may be provided. Found ${points}.`);

  const ic = isObject(body.inferenceConfig) ? body.inferenceConfig : {};
  const maxTokens = ic.maxTokens;
  if (maxTokens !== undefined && (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1)) fail('inferenceConfig.maxTokens: Member must have value greater than or equal to 1');
  if (ic.temperature !== undefined && (typeof ic.temperature !== 'number' || ic.temperature < 0 || ic.temperature > 1)) fail('inferenceConfig.temperature: Member must have value less than or equal to 1');
  const stopSequences = Array.isArray(ic.stopSequences) ? (ic.stopSequences as unknown[]).filter((s): s is string => typeof s === 'string' && s !== '') : [];

  const thinking = parseThinking(body, model, maxTokens as number | undefined);
  if (thinking) {
    if (ic.temperature !== undefined && ic.temperature !== 1) fail('The model returned the following errors: `temperature` may only be set to 1 when thinking is enabled.');
    if (forcedTool !== undefined) fail('The model returned the following errors: Thinking may not be enabled when tool_choice forces tool use.');
    checkToolTurn(messages);
  }

  let json: Json | undefined;
  const oc = body.outputConfig;
  if (isObject(oc) && oc.textFormat !== undefined) {
    const f = oc.textFormat;
    const schemaText = isObject(f) && f.type === 'json_schema' && isObject(f.structure) && isObject(f.structure.jsonSchema) ? f.structure.jsonSchema.schema : undefined;
    if (typeof schemaText !== 'string') fail('outputConfig.textFormat: type json_schema with structure.jsonSchema.schema (a JSON string) is required');
    try {
      json = JSON.parse(schemaText as string) as Json;
    } catch {
      fail('outputConfig.textFormat.structure.jsonSchema.schema: is not valid JSON');
    }
  }

  return { model, maxTokens: maxTokens as number | undefined, stopSequences, segments, prompt, toolResult, tools, forcedTool, json, thinking };
}

/** The reply: thinking first (when on), then the answer, cut by maxTokens (thinking counts in it) and stop sequences. */
export function planConverse(req: ConverseRequest, replyWords: number): ConverseOutcome {
  const thinking = req.thinking ? planThinking(req.prompt, req.toolResult, replyWords) : undefined;
  const redacted = thinking !== undefined && wantsRedacted(req.prompt);
  const maxTokens = req.maxTokens === undefined ? undefined : Math.max(1, req.maxTokens - (thinking?.tokens ?? 0));
  const reply = planReply({ ...req, maxTokens, replyWords });
  if (reply.toolCalls.length > 0) return { reply, thinking, redacted, stopReason: 'tool_use' };
  if (req.json === undefined) {
    let cut = -1;
    for (const s of req.stopSequences) {
      const at = reply.text.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const text = reply.text.slice(0, cut);
      return { reply: { ...reply, text, outputTokens: countTokens(text), finish: 'stop' }, thinking, redacted, stopReason: 'stop_sequence' };
    }
  }
  return { reply, thinking, redacted, stopReason: reply.finish === 'length' ? 'max_tokens' : 'end_turn' };
}

export interface ConverseUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
}

export function totalInputTokens(req: ConverseRequest): number {
  return req.segments.reduce((n, s) => n + s.tokens, 0);
}

/** Usage of a reply, with the prefix up to the last checkpoint read from (or written to) the cache. */
export function converseUsage(req: ConverseRequest, cache: PrefixCache, outputTokens: number): ConverseUsage {
  const total = totalInputTokens(req);
  const usage = { inputTokens: total, outputTokens, totalTokens: total + outputTokens, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 };
  const end = req.segments.findLastIndex((s) => s.cache !== undefined);
  if (end < 0) return usage;
  const prefix = req.segments.slice(0, end + 1);
  const prefixTokens = prefix.reduce((n, s) => n + s.tokens, 0);
  if (prefixTokens === 0) return usage;
  const ttl = req.segments[end]!.cache === '1h' ? HOUR_MS : FIVE_MINUTES_MS;
  const key = `bedrock\u0001${req.model}\u0001${prefix.map((s) => s.key).join('\u0001')}`;
  usage.inputTokens = total - prefixTokens;
  if (cache.touch(key, ttl) === 'read') usage.cacheReadInputTokens = prefixTokens;
  else usage.cacheWriteInputTokens = prefixTokens;
  return usage;
}

/** The reply's reasoning blocks, signed by this simulator; a redacted block follows when the prompt asked for one. */
export function reasoningBlocks(plan: PlannedThinking, redacted: boolean, signer: ThoughtSigner): Json[] {
  const blocks: Json[] = [{ reasoningContent: { reasoningText: { text: plan.text, signature: signer.sign(REASONING_SCOPE, plan.text) } } }];
  // Redacted content is a blob: base64 over the sealed text, so SDKs decode it to bytes and send those back.
  if (redacted) blocks.push({ reasoningContent: { redactedContent: Buffer.from(signer.seal(REDACTED_SCOPE, `hidden: ${plan.text}`)).toString('base64') } });
  return blocks;
}
