import {
  assertSupported,
  GatewayError,
  textOf,
  type ChatRequest,
  type ContentPart,
  type Message,
  type ResponseFormat,
  type ToolChoice,
} from '../../core/index.ts';
import type { CallOptions } from '../spec.ts';
import type { OpenAIPreset, PresetFeature } from './presets.ts';

/** Who is building the body: the adapter id (for errors) and the vendor differences that apply. */
export interface BodyContext {
  provider: string;
  preset: OpenAIPreset;
  /** Set when a preset is in use; its `providerOptions[presetName]` entry is merged too. */
  presetName?: string | undefined;
  maxTokensField: OpenAIPreset['maxTokensField'];
}

type Json = Record<string, unknown>;

function unsupported(ctx: BodyContext, feature: string, why: string): GatewayError {
  const who = ctx.presetName ? `${ctx.provider} (${ctx.presetName})` : ctx.provider;
  return new GatewayError('unsupported_feature', `${who} does not support ${feature}: ${why}`, {
    provider: ctx.provider,
    param: feature,
  });
}

export function assertPresetAllows(ctx: BodyContext, feature: PresetFeature, used: boolean): void {
  if (used && ctx.preset.unsupported.includes(feature)) {
    throw unsupported(ctx, feature, 'the vendor API has no such parameter');
  }
}

/** The vendor-only parameters of the request: `providerOptions.openai`, then the preset's own entry. */
export function passthrough(ctx: BodyContext, providerOptions: Record<string, Record<string, unknown>> | undefined): Json {
  return {
    ...providerOptions?.openai,
    ...(ctx.presetName !== undefined && providerOptions?.[ctx.presetName]),
  };
}

function userContent(content: string | ContentPart[]): string | Json[] {
  if (typeof content === 'string') return content;
  return content.map((p) =>
    p.type === 'text'
      ? { type: 'text', text: p.text }
      : {
          type: 'image_url',
          image_url: {
            url: p.url ?? `data:${p.mediaType};base64,${p.data}`,
            ...(p.detail !== undefined && { detail: p.detail }),
          },
        },
  );
}

function message(m: Message): Json {
  switch (m.role) {
    // System, assistant and tool content is text only; it is sent as one string because several
    // compatible servers accept only strings in those roles (cacheControl is a hint OpenAI has no
    // field for: its prompt caching is automatic).
    case 'system':
      return { role: 'system', content: textOf(m.content) };
    case 'user':
      return { role: 'user', content: userContent(m.content) };
    case 'assistant': {
      const calls = m.toolCalls ?? [];
      const text = textOf(m.content);
      return {
        role: 'assistant',
        // `content` is required unless tool_calls is present; null is the API's own "no text".
        content: text === '' && calls.length > 0 ? null : text,
        ...(calls.length > 0 && {
          tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
        }),
      };
    }
    case 'tool':
      // The result is addressed by tool_call_id; the optional `name` exists for protocols that address
      // results by function name and has no place in this message.
      return { role: 'tool', tool_call_id: m.toolCallId, content: textOf(m.content) };
  }
}

function toolChoice(c: ToolChoice): unknown {
  return typeof c === 'string' ? c : { type: 'function', function: { name: c.name } };
}

function responseFormat(f: ResponseFormat): Json {
  if (f.type !== 'json_schema') return { type: f.type };
  return {
    type: 'json_schema',
    json_schema: {
      name: f.name,
      ...(f.description !== undefined && { description: f.description }),
      schema: f.schema,
      ...(f.strict !== undefined && { strict: f.strict }),
    },
  };
}

/**
 * ChatRequest → Chat Completions body. Checks first (capabilities, then what this vendor cannot
 * express), so a request is either sent whole or rejected with unsupported_feature — never trimmed.
 */
export function toChatBody(req: ChatRequest, opts: CallOptions, ctx: BodyContext, stream: boolean): Json {
  assertSupported(req, opts.capabilities, ctx.provider);
  assertPresetAllows(ctx, 'seed', req.seed !== undefined);
  assertPresetAllows(ctx, 'json_schema', req.responseFormat?.type === 'json_schema');
  assertPresetAllows(ctx, 'tools', (req.tools?.length ?? 0) > 0);
  assertPresetAllows(ctx, 'reasoning_effort', req.reasoningEffort !== undefined);
  assertPresetAllows(ctx, 'images', req.messages.some((m) => m.role === 'user' && typeof m.content !== 'string' && m.content.some((p) => p.type === 'image')));
  const maxStop = ctx.preset.maxStopSequences;
  if (req.stop && maxStop !== undefined && req.stop.length > maxStop) {
    throw unsupported(ctx, 'stop', `at most ${maxStop} stop sequences, got ${req.stop.length}`);
  }

  const body: Json = {
    model: opts.model,
    messages: req.messages.map(message),
  };
  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description !== undefined && { description: t.description }),
        parameters: t.parameters,
        ...(t.strict !== undefined && { strict: t.strict }),
      },
    }));
  }
  if (req.toolChoice !== undefined) body.tool_choice = toolChoice(req.toolChoice);
  if (req.responseFormat !== undefined) body.response_format = responseFormat(req.responseFormat);
  if (req.maxOutputTokens !== undefined) body[ctx.maxTokensField] = req.maxOutputTokens;
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop?.length) body.stop = req.stop;
  if (req.seed !== undefined) body[ctx.preset.seedField ?? 'seed'] = req.seed;
  // OpenAI takes the effort as is; reasoning sent back on assistant turns has no field in Chat Completions.
  if (req.reasoningEffort !== undefined) body.reasoning_effort = req.reasoningEffort;
  if (req.promptCacheKey !== undefined && ctx.preset.promptCacheKey === true) body.prompt_cache_key = req.promptCacheKey;
  // req.metadata is not sent: OpenAI keeps `metadata` only for stored completions and most compatible
  // servers reject the field; the contract says labels stay with us unless a vendor has a use for them.

  const extra = passthrough(ctx, req.providerOptions);
  Object.assign(body, extra);
  // The parser depends on these, so vendor options cannot turn them off.
  if (stream) {
    body.stream = true;
    if (ctx.preset.streamOptions) {
      const given = typeof extra.stream_options === 'object' && extra.stream_options !== null ? extra.stream_options : {};
      // include_usage makes the final chunk carry exact usage (choices: []).
      body.stream_options = { ...given, include_usage: true };
    }
  } else if ('stream' in body || 'stream_options' in body) {
    // Only when vendor options set them: a delete turns the body into a slower dictionary-mode object.
    delete body.stream;
    delete body.stream_options;
  }
  return body;
}
