import {
  httpStatusOf,
  openaiErrorTypeOf,
  type Completion,
  type FinishReason,
  type GatewayError,
  type ReasoningPart,
  type Usage,
} from '../../core/index.ts';

/**
 * OpenAI has no "error" finish reason; we say so rather than pretend the answer stopped normally. `other`
 * (the provider named no reason) is `null`, what such an upstream sent and what OpenAI's stream chunks allow.
 */
function finishReasonOf(r: FinishReason): string | null {
  return r === 'other' ? null : r;
}

export function usageOf(u: Usage): Record<string, unknown> {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  };
}

/**
 * Signed reasoning as LiteLLM's `thinking_blocks` (`{type: 'thinking', thinking, signature}` /
 * `{type: 'redacted_thinking', data}`), plus `provider` (who signed) and Gemini's `tool_call_id`, so a client
 * that sends the assistant message back as it came continues the turn. Undefined when nothing is signed:
 * unsigned reasoning is `reasoning_content` alone.
 */
export function thinkingBlocksOf(parts: readonly ReasoningPart[] | undefined): Array<Record<string, unknown>> | undefined {
  if (!parts?.some((p) => p.signature !== undefined)) return undefined;
  return parts.map((p) => {
    const who = { ...(p.provider !== undefined && { provider: p.provider }), ...(p.toolCallId !== undefined && { tool_call_id: p.toolCallId }) };
    if (p.redacted === true) return { type: 'redacted_thinking', data: p.signature, ...who };
    return { type: 'thinking', thinking: p.text, ...(p.signature !== undefined && { signature: p.signature }), ...who };
  });
}

/** A Completion as an OpenAI `chat.completion` object (with `reasoning_content` / `thinking_blocks` when the model reasoned). */
export function completionBody(c: Completion): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: c.message.content, refusal: null };
  if (c.message.toolCalls.length > 0) {
    message.tool_calls = c.message.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }));
  }
  if (c.message.reasoning !== undefined) message.reasoning_content = c.message.reasoning;
  const blocks = thinkingBlocksOf(c.message.reasoningParts);
  if (blocks) message.thinking_blocks = blocks;
  return {
    id: c.id,
    object: 'chat.completion',
    created: Math.floor(c.createdAt.getTime() / 1000),
    model: c.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReasonOf(c.finishReason) }],
    usage: usageOf(c.usage),
  };
}

/**
 * Encodes a streamed completion as OpenAI `chat.completion.chunk` SSE frames. The frame prefix is built
 * once per stream so each delta costs one JSON.stringify of the delta itself.
 */
export class ChunkEncoder {
  private readonly prefix: string;
  private readonly id: string;
  private readonly created: number;
  private readonly model: string;

  constructor(id: string, model: string, created = Math.floor(Date.now() / 1000)) {
    this.id = id;
    this.model = model;
    this.created = created;
    this.prefix = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":`;
  }

  private frame(delta: string, finish: string | null): string {
    return `${this.prefix}${delta},"logprobs":null,"finish_reason":${finish === null ? 'null' : JSON.stringify(finish)}}]}\n\n`;
  }

  role(): string {
    return this.frame('{"role":"assistant","content":""}', null);
  }

  text(text: string): string {
    return this.frame(`{"content":${JSON.stringify(text)}}`, null);
  }

  /** Reasoning text as it streams (DeepSeek's and LiteLLM's `delta.reasoning_content`). */
  reasoning(text: string): string {
    return this.frame(`{"reasoning_content":${JSON.stringify(text)}}`, null);
  }

  /** The signed blocks, whole, once the reply is complete: a client appends them to the message it sends back. */
  thinkingBlocks(blocks: ReadonlyArray<Record<string, unknown>>): string {
    return this.frame(JSON.stringify({ thinking_blocks: blocks }), null);
  }

  toolCall(index: number, id: string | undefined, name: string | undefined, args: string): string {
    const call: Record<string, unknown> = { index };
    if (id !== undefined) {
      call.id = id;
      call.type = 'function';
    }
    const fn: Record<string, string> = { arguments: args };
    if (name !== undefined) fn.name = name;
    call.function = fn;
    return this.frame(JSON.stringify({ tool_calls: [call] }), null);
  }

  finish(reason: FinishReason): string {
    return this.frame('{}', finishReasonOf(reason));
  }

  usage(u: Usage): string {
    return `data: ${JSON.stringify({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: usageOf(u) })}\n\n`;
  }

  error(e: GatewayError): string {
    return `data: ${JSON.stringify(errorBody(e))}\n\n`;
  }

  done(): string {
    return 'data: [DONE]\n\n';
  }
}

/** OpenAI's error envelope, so OpenAI SDKs raise their matching error class. Never includes the cause. */
export function errorBody(e: GatewayError): { error: Record<string, unknown> } {
  return {
    error: {
      message: e.message,
      type: openaiErrorTypeOf(e.kind),
      param: e.param ?? null,
      code: e.kind,
      ...(e.partialText ? { partial_text: e.partialText } : {}),
    },
  };
}

export function errorStatus(e: GatewayError): number {
  return httpStatusOf(e.kind);
}
