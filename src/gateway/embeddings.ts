import { GatewayError, type Completion, type EmbeddingRequest } from '../core/index.ts';
import type { StoreRequest } from './gateway-request.ts';

/** An embeddings request as the APIs make it: the inputs, plus the routing, cache and idempotency controls chat has. */
export type EmbeddingsCall = Omit<StoreRequest, 'chat' | 'embeddings'> & { embeddings: EmbeddingRequest };

/** What an embeddings request produced: a completion record (route, provider, usage, cost, attempts, latency, cache) with its vectors. */
export type Embeddings = Completion & { embeddings: number[][] };

/**
 * The gateway request of an embeddings call. Its `chat` is the inputs as user messages with temperature
 * 0 and no output: planning (context windows), TPM, budgets, the cost estimate and the cache all read a
 * request through its chat, so an embeddings request is counted by its inputs, priced with no output
 * tokens and, being deterministic, cached by default. The provider is sent `embeddings`, never the chat.
 */
export function embeddingsRequest(call: EmbeddingsCall): StoreRequest {
  const chat = { messages: call.embeddings.input.map((text) => ({ role: 'user' as const, content: text })), temperature: 0, maxOutputTokens: 0 };
  return { ...call, chat, embeddings: call.embeddings };
}

/** The answer to an embeddings request, checked: a completion without vectors is a gateway bug, not an answer. */
export function asEmbeddings(c: Completion): Embeddings {
  if (!c.embeddings) throw new GatewayError('internal', 'an embeddings request was answered without embeddings');
  return c as Embeddings;
}
