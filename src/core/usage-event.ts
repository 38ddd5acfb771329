import { z } from 'zod';
import { ERROR_KINDS } from './gateway-error.ts';

const count = z.number().int().nonnegative();

/**
 * One request as the ledger records it: exactly one event per request, successful or not, written
 * after the request has ended. `keyName` is the API key's configured name, never the key itself.
 */
export const UsageEventSchema = z.object({
  id: z.string().min(1),
  /** Epoch ms when the request ended; rollups bucket by it. */
  time: z.number().int().nonnegative(),
  keyName: z.string().nullable(),
  team: z.string().nullable(),
  route: z.string(),
  routeVersion: z.number().int(),
  /** The provider and model that answered (or that the last attempt went to); null when none was reached. */
  provider: z.string().nullable(),
  model: z.string().nullable(),
  attempts: count,
  tokens: z.object({ input: count, output: count, cachedInput: count, cacheWrite: count, reasoning: count }),
  /** null: unpriced model, or a failed request with no usage. Never $0 for "unknown". */
  costUsd: z.number().nonnegative().nullable(),
  priceSource: z.enum(['config', 'builtin', 'none']),
  /** The token counts are our estimate: the provider reported none. */
  usageEstimated: z.boolean(),
  latencyMs: z.number().nonnegative(),
  ttftMs: z.number().nonnegative().nullable(),
  cacheHit: z.boolean(),
  stream: z.boolean(),
  status: z.enum(['ok', 'error']),
  errorKind: z.enum(ERROR_KINDS).nullable(),
  traceId: z.string().nullable(),
  /** How the answer ended (null for failed requests); optional so events written before it still parse. */
  finishReason: z.enum(['stop', 'length', 'tool_calls', 'content_filter', 'error', 'other']).nullable().optional(),
  /** Chat or embeddings; optional so events written before it still parse (they were all chat). */
  operation: z.enum(['chat', 'embeddings']).optional(),
});

export type UsageEvent = z.infer<typeof UsageEventSchema>;

/** The ledger's dimensions; rollups are kept per distinct combination of them. */
export const USAGE_DIMENSIONS = ['provider', 'model', 'route', 'keyName', 'team', 'operation'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];
