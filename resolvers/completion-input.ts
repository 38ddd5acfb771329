import type { z } from 'zod';
import { ChatRequestSchema, formatPath, issueMessage, issueProblems, type ToolChoice } from '../src/core/index.ts';
import { CacheDirectiveSchema, type CacheDirective, type StoreRequest } from '../src/gateway/gateway-request.ts';
import { RequestConstraintsSchema } from '../src/gateway/request-constraints.ts';
import type { GraphQLContext } from './context.ts';
import { badUserInput } from './errors.ts';

/** CompletionInput as resolvers receive it: enums already mapped to the core's lower-case values. */
type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ImageInputArgs {
  url?: string | null;
  data?: string | null;
  mediaType?: string | null;
  detail?: 'auto' | 'low' | 'high' | null;
}

export interface CacheControlInputArgs {
  type?: 'ephemeral' | null;
  ttl?: '5m' | '1h' | null;
}

export interface ContentPartInputArgs {
  text?: string | null;
  image?: ImageInputArgs | null;
  cacheControl?: CacheControlInputArgs | null;
}

export interface MessageInputArgs {
  role: Role;
  content?: string | null;
  images?: ImageInputArgs[] | null;
  parts?: ContentPartInputArgs[] | null;
  toolCallId?: string | null;
  name?: string | null;
  toolCalls?: Array<{ id: string; name: string; arguments: string }> | null;
  reasoningParts?: Array<{ text: string; signature?: string | null; redacted?: boolean | null; provider?: string | null; toolCallId?: string | null }> | null;
}

export interface CompletionInputArgs {
  route?: string | null;
  model?: string | null;
  messages: MessageInputArgs[];
  tools?: Array<{ name: string; description?: string | null; parameters?: unknown; strict?: boolean | null; cacheControl?: CacheControlInputArgs | null }> | null;
  toolChoice?: { mode: 'auto' | 'none' | 'required' | 'tool'; name?: string | null } | null;
  responseFormat?: { type: 'text' | 'json_object' | 'json_schema'; name?: string | null; schema?: unknown; strict?: boolean | null } | null;
  maxTokens?: number | null;
  temperature?: number | null;
  topP?: number | null;
  stop?: string[] | null;
  seed?: number | null;
  reasoningEffort?: 'minimal' | 'low' | 'medium' | 'high' | null;
  task?: string | null;
  quality?: 'fast' | 'balanced' | 'best' | null;
  latencyBudgetMs?: number | null;
  costCeilingUsd?: number | null;
  allowProviders?: string[] | null;
  denyProviders?: string[] | null;
  promptCacheKey?: string | null;
  metadata?: unknown;
  providerOptions?: unknown;
  cache?: { mode?: CacheDirective['mode'] | null; ttlSeconds?: number | null } | null;
  idempotencyKey?: string | null;
}

const FIELD_ORDER = ['route', 'model', 'messages', 'tools', 'toolChoice', 'responseFormat', 'maxTokens', 'temperature', 'topP', 'stop', 'seed', 'reasoningEffort', 'task', 'quality', 'latencyBudgetMs', 'costCeilingUsd', 'allowProviders', 'denyProviders', 'promptCacheKey', 'metadata', 'providerOptions', 'cache', 'idempotencyKey'];

const nn = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/**
 * Drops undefined keys so the zod schema sees the same object a JSON body would give it. A copy rather than
 * `delete`: deleting a property turns an object into a slow dictionary-mode one, and this request object is
 * read by every layer after it.
 */
function compact<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out as T;
}

/**
 * Per message, how its ChatRequest content maps back to the input: `textParts` parts from `content` before the
 * images (0 or 1), or, for a message given as `parts`, each part's kind (content[k] is parts[k]).
 */
interface Layout {
  role: Role;
  textParts: number;
  parts?: ReadonlyArray<'text' | 'image'>;
  /** The parts had structural problems already reported: the schema's complaints about them would repeat them. */
  reported?: boolean;
}

const IMAGE_FIELDS = new Set<PropertyKey>(['url', 'data', 'mediaType', 'detail']);

function cacheControlOf(cc: CacheControlInputArgs | null | undefined): { cacheControl?: Record<string, unknown> } {
  return cc ? { cacheControl: compact({ type: nn(cc.type) ?? 'ephemeral', ttl: nn(cc.ttl) }) } : {};
}

function imagePart(img: ImageInputArgs, cc?: CacheControlInputArgs | null): Record<string, unknown> {
  return compact({ type: 'image', url: nn(img.url), data: nn(img.data), mediaType: nn(img.mediaType), detail: nn(img.detail), ...cacheControlOf(cc) });
}

/** A message given as `parts`: the content array, checked for what the schema cannot say by input field. */
function buildParts(m: MessageInputArgs, parts: readonly ContentPartInputArgs[], i: number, problems: Array<[string, string]>): [Array<Record<string, unknown>>, Layout] {
  const at = (field: string) => `input.messages[${i}].${field}`;
  const before = problems.length;
  if (nn(m.content) !== undefined || m.images?.length) problems.push([at('parts'), 'give either content (and images) or parts, not both']);
  const kinds: Array<'text' | 'image'> = [];
  const content = parts.map((p, j) => {
    const text = nn(p.text);
    const image = nn(p.image);
    if ((text === undefined) === (image === undefined)) problems.push([at(`parts[${j}]`), 'a part needs exactly one of text or image']);
    if (image !== undefined && m.role !== 'user') problems.push([at(`parts[${j}].image`), `only USER messages take images, not ${m.role.toUpperCase()}`]);
    kinds.push(image !== undefined && text === undefined ? 'image' : 'text');
    return image !== undefined && text === undefined ? imagePart(image, p.cacheControl) : compact({ type: 'text', text: text ?? '', ...cacheControlOf(p.cacheControl) });
  });
  return [content, { role: m.role, textParts: 0, parts: kinds, reported: problems.length > before }];
}

function reasoningPartsOf(m: MessageInputArgs): Array<Record<string, unknown>> | undefined {
  return m.reasoningParts?.length
    ? m.reasoningParts.map((p) => compact({ text: p.text, signature: nn(p.signature), redacted: nn(p.redacted), provider: nn(p.provider), toolCallId: nn(p.toolCallId) }))
    : undefined;
}

function buildMessage(m: MessageInputArgs, i: number, problems: Array<[string, string]>): [Record<string, unknown>, Layout] {
  const at = (field: string) => `input.messages[${i}].${field}`;
  const ROLE = m.role.toUpperCase();
  if (m.images?.length && m.role !== 'user') problems.push([at('images'), `only USER messages take images, not ${ROLE}`]);
  if (m.toolCalls?.length && m.role !== 'assistant') problems.push([at('toolCalls'), `only ASSISTANT messages take toolCalls, not ${ROLE}`]);
  if (nn(m.toolCallId) !== undefined && m.role !== 'tool') problems.push([at('toolCallId'), `only TOOL messages take a toolCallId, not ${ROLE}`]);
  if (nn(m.name) !== undefined && m.role !== 'tool') problems.push([at('name'), `only TOOL messages take a name, not ${ROLE}`]);
  if (m.reasoningParts?.length && m.role !== 'assistant') problems.push([at('reasoningParts'), `only ASSISTANT messages take reasoningParts, not ${ROLE}`]);
  if (m.parts != null) {
    const [parts, layout] = buildParts(m, m.parts, i, problems);
    switch (m.role) {
      case 'assistant':
        return [
          compact({
            role: 'assistant',
            content: parts,
            toolCalls: m.toolCalls?.length ? m.toolCalls.map((c) => ({ ...c })) : undefined,
            reasoningParts: reasoningPartsOf(m),
          }),
          layout,
        ];
      case 'tool':
        return [compact({ role: 'tool', toolCallId: nn(m.toolCallId), name: nn(m.name), content: parts }), layout];
      default:
        return [{ role: m.role, content: parts }, layout];
    }
  }
  const content = nn(m.content);
  switch (m.role) {
    case 'system':
      return [compact({ role: 'system', content }), { role: m.role, textParts: 0 }];
    case 'user': {
      if (!m.images?.length) return [compact({ role: 'user', content }), { role: m.role, textParts: 0 }];
      const text = content === undefined || content === '' ? [] : [{ type: 'text', text: content }];
      const images = m.images.map((img) => imagePart(img));
      return [{ role: 'user', content: [...text, ...images] }, { role: m.role, textParts: text.length }];
    }
    case 'assistant':
      return [
        compact({
          role: 'assistant',
          content: content ?? null,
          toolCalls: m.toolCalls?.length ? m.toolCalls.map((c) => ({ ...c })) : undefined,
          reasoningParts: reasoningPartsOf(m),
        }),
        { role: m.role, textParts: 0 },
      ];
    case 'tool':
      return [compact({ role: 'tool', toolCallId: nn(m.toolCallId), name: nn(m.name), content }), { role: m.role, textParts: 0 }];
  }
}

/** The GraphQL input path of a zod issue on the ChatRequest built from it. */
function inputPath(path: readonly PropertyKey[], layouts: readonly Layout[]): string {
  const segs = [...path];
  if (segs[0] === 'maxOutputTokens') segs[0] = 'maxTokens';
  if (segs[0] === 'toolChoice') segs.splice(1, segs.length, ...(segs[1] === 'name' ? ['name'] : []));
  const parts = segs[0] === 'messages' && typeof segs[1] === 'number' ? layouts[segs[1]]?.parts : undefined;
  if (parts && segs[2] === 'content') {
    segs[2] = 'parts';
    if (typeof segs[3] === 'number' && parts[segs[3]] === 'image' && segs[4] !== undefined && IMAGE_FIELDS.has(segs[4])) segs.splice(4, 0, 'image');
  } else if (segs[0] === 'messages' && typeof segs[1] === 'number' && segs[2] === 'content' && typeof segs[3] === 'number') {
    const offset = layouts[segs[1]]?.textParts ?? 0;
    if (segs[3] >= offset) segs.splice(2, 2, 'images', segs[3] - offset);
    else segs.splice(3, 1);
  }
  return formatPath(['input', ...segs]);
}

function chatIssueMessage(issue: z.core.$ZodIssue, layouts: readonly Layout[], input: CompletionInputArgs): string {
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) {
    const [top, index] = issue.path;
    if (top === 'messages' && typeof index === 'number' && layouts[index]) return `required for ${layouts[index].role.toUpperCase()} messages`;
    if (top === 'responseFormat' && input.responseFormat) return `required for ${input.responseFormat.type.toUpperCase()}`;
    return 'required';
  }
  return issueMessage(issue);
}

/**
 * CompletionInput → GatewayRequest, validated with the same ChatRequestSchema as the REST API. Problems
 * become one BAD_USER_INPUT error whose message names each field (`input.messages[1].toolCallId: required
 * for TOOL messages`) and whose `param` is the first of them.
 */
export function toGatewayRequest(input: CompletionInputArgs, ctx: Pick<GraphQLContext, 'principal' | 'signal' | 'requestId'>): StoreRequest {
  const problems: Array<[string, string]> = [];
  const layouts: Layout[] = [];
  const messages = input.messages.map((m, i) => {
    const [message, layout] = buildMessage(m, i, problems);
    layouts.push(layout);
    return message;
  });
  let toolChoice: ToolChoice | undefined;
  if (input.toolChoice) {
    const { mode, name } = input.toolChoice;
    if (mode === 'tool') {
      if (!name) problems.push(['input.toolChoice.name', 'required when mode is TOOL']);
      toolChoice = { type: 'tool', name: name ?? '' };
    } else {
      if (nn(name) !== undefined) problems.push(['input.toolChoice.name', `only allowed when mode is TOOL, not ${mode.toUpperCase()}`]);
      toolChoice = mode;
    }
  }
  let responseFormat: Record<string, unknown> | undefined;
  if (input.responseFormat) {
    const { type, name, schema, strict } = input.responseFormat;
    responseFormat = type === 'json_schema' ? compact({ type, name: nn(name), schema: nn(schema), strict: nn(strict) }) : { type };
  }
  const chat = compact({
    messages,
    tools: input.tools?.map((t) => compact({ name: t.name, description: nn(t.description), parameters: nn(t.parameters), strict: nn(t.strict), ...cacheControlOf(t.cacheControl) })),
    toolChoice,
    responseFormat,
    maxOutputTokens: nn(input.maxTokens),
    temperature: nn(input.temperature),
    topP: nn(input.topP),
    stop: nn(input.stop),
    seed: nn(input.seed),
    reasoningEffort: nn(input.reasoningEffort),
    promptCacheKey: nn(input.promptCacheKey),
    metadata: nn(input.metadata),
    providerOptions: nn(input.providerOptions),
  });
  const parsed = ChatRequestSchema.safeParse(chat);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [top, index, field] = issue.path;
      if (top === 'messages' && typeof index === 'number' && field === 'content' && layouts[index]?.reported) continue;
      const path = inputPath(issue.path, layouts);
      // The tool-choice union's own complaint duplicates ours.
      if (path.startsWith('input.toolChoice') && problems.some(([p]) => p.startsWith('input.toolChoice'))) continue;
      problems.push([path, chatIssueMessage(issue, layouts, input)]);
    }
  }
  const constraints = RequestConstraintsSchema.safeParse(
    compact({
      quality: nn(input.quality),
      latencyBudgetMs: nn(input.latencyBudgetMs),
      costCeilingUsd: nn(input.costCeilingUsd),
      allow: nn(input.allowProviders),
      deny: nn(input.denyProviders),
    }),
  );
  if (!constraints.success) {
    const names: Record<string, string> = { allow: 'allowProviders', deny: 'denyProviders' };
    for (const issue of constraints.error.issues) {
      const [head, ...rest] = issue.path;
      problems.push([formatPath(['input', names[String(head)] ?? String(head), ...rest]), issueMessage(issue)]);
    }
  }
  let cache: CacheDirective | undefined;
  if (input.cache) {
    const parsedCache = CacheDirectiveSchema.safeParse(compact({ mode: nn(input.cache.mode), ttlSeconds: nn(input.cache.ttlSeconds) }));
    if (parsedCache.success) cache = parsedCache.data;
    else problems.push(...issueProblems(parsedCache.error.issues, ['input', 'cache']));
  }
  const idempotencyKey = nn(input.idempotencyKey);
  const task = nn(input.task);
  if (task !== undefined && task.trim() === '') problems.push(['input.task', 'must not be empty']);
  if (problems.length > 0 || !parsed.success || !constraints.success) {
    // In the input's field order (stable within a field), so `param` names the first field a reader meets.
    const rank = (path: string) => {
      const i = FIELD_ORDER.indexOf(path.slice('input.'.length).split(/[.[]/)[0]!);
      return i === -1 ? FIELD_ORDER.length : i;
    };
    problems.sort((a, b) => rank(a[0]) - rank(b[0]));
    const message = problems.map(([p, m]) => `${p}: ${m}`).join('; ') || 'invalid input';
    throw badUserInput(message, problems[0]?.[0]);
  }
  return {
    chat: parsed.data,
    route: nn(input.route),
    model: nn(input.model),
    principal: ctx.principal,
    signal: ctx.signal,
    requestId: ctx.requestId,
    // A GraphQL Completion is an entity: kept in the recent-completions log for completion(id).
    retain: true,
    ...(task !== undefined && { task }),
    ...(Object.keys(constraints.data).length > 0 && { constraints: constraints.data }),
    ...(cache && { cache }),
    ...(idempotencyKey !== undefined && { idempotencyKey }),
  };
}
