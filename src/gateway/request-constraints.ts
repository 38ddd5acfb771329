import { z } from 'zod';

/**
 * Per-request routing constraints, one schema for both APIs (GraphQL CompletionInput fields, the REST
 * body's `switchboard` object), so both accept and reject the same values.
 */
export const RequestConstraintsSchema = z.strictObject({
  quality: z.enum(['fast', 'balanced', 'best']).optional(),
  latencyBudgetMs: z.number().int().positive().optional(),
  costCeilingUsd: z.number().nonnegative().optional(),
  allow: z.array(z.string().min(1)).min(1, 'name at least one provider').optional(),
  deny: z.array(z.string().min(1)).optional(),
});

export type RequestConstraintsInput = z.infer<typeof RequestConstraintsSchema>;
