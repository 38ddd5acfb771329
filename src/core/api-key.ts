import { z } from 'zod';

/**
 * A runtime API key (createApiKey): what a client asks for, and the record the store keeps, the
 * authenticator reads and the API lists. The secret itself is never part of it (only its digest is stored).
 */
export const ApiKeyInputSchema = z.strictObject({
  name: z.string().min(1).max(200),
  scope: z.enum(['admin', 'client']).default('client'),
  routes: z.array(z.string().min(1)).optional(),
  models: z.array(z.string().min(1)).optional(),
  team: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
});

export const ApiKeyRecordSchema = ApiKeyInputSchema.extend({
  id: z.string().min(1),
  /** The first characters of the secret, to tell keys apart in listings (not enough to use it). */
  prefix: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});

export type ApiKeyInput = z.input<typeof ApiKeyInputSchema>;
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;
