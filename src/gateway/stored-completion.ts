import { z } from 'zod';
import { ReasoningPartSchema, reasoningDeltas, type Completion, type CompletionEvent } from '../core/index.ts';

/**
 * Completions kept by the store stages (the response cache, idempotency records) and served again: how
 * they are written, read back, and replayed as the events a live stream would have produced.
 */

/** Replays a finished completion as the events a live stream would have produced. */
export async function* replayAsStream(c: Completion): AsyncGenerator<CompletionEvent> {
  yield { type: 'start', id: c.id, route: c.route, routeVersion: c.routeVersion, provider: c.provider, model: c.model };
  yield* reasoningDeltas(c.message.reasoningParts);
  if (c.message.content) yield { type: 'text-delta', text: c.message.content };
  for (const [index, call] of c.message.toolCalls.entries()) {
    yield { type: 'tool-call-delta', index, id: call.id, name: call.name, argumentsDelta: call.arguments };
  }
  yield { type: 'done', completion: c };
}

const StoredCompletionSchema = z
  .object({
    id: z.string(),
    route: z.string(),
    routeVersion: z.number(),
    provider: z.string(),
    model: z.string(),
    upstreamModel: z.string(),
    message: z.object({
      role: z.literal('assistant'),
      content: z.string().nullable(),
      toolCalls: z.array(z.object({ id: z.string(), name: z.string(), arguments: z.string() })),
      reasoning: z.string().optional(),
      reasoningParts: z.array(ReasoningPartSchema).optional(),
    }),
    finishReason: z.enum(['stop', 'length', 'tool_calls', 'content_filter', 'error', 'other']),
    usage: z.object({
      inputTokens: z.number(),
      outputTokens: z.number(),
      cachedInputTokens: z.number(),
      cacheWriteTokens: z.number(),
      reasoningTokens: z.number(),
      estimated: z.boolean().optional(),
    }),
    costUsd: z.number().nullable(),
    latencyMs: z.number(),
    timeToFirstTokenMs: z.number().nullable(),
    cached: z.boolean(),
    attempts: z.array(z.unknown()),
    createdAt: z.string(),
    embeddings: z.array(z.array(z.number())).optional(),
  })
  .loose();

/** A completion as stored (cache, idempotency): JSON, with `createdAt` as an ISO string. */
export function serializeCompletion(c: Completion, opts: { forOthers: boolean }): string {
  // A cached answer is served to other callers: nothing about who asked or what failed on the way.
  const stored = opts.forOthers ? { ...c, principal: undefined, traceId: null, attempts: [] } : c;
  return JSON.stringify(stored);
}

/** Undefined when the stored value is not a completion (corrupt, or written by an incompatible version). */
export function parseCompletion(value: string): Completion | undefined {
  try {
    const parsed = StoredCompletionSchema.safeParse(JSON.parse(value));
    if (!parsed.success) return undefined;
    return { ...(parsed.data as unknown as Completion), createdAt: new Date(parsed.data.createdAt) };
  } catch {
    return undefined;
  }
}
