import { z } from 'zod';
import { QuotaBudgetSchema, QuotaLimitsSchema } from './quota.ts';

/** An instant as RFC 3339 with an offset (stored normalized to UTC `Z`). */
const InstantSchema = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

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
  /** The key's own RPM/TPM, applied like a config quota (`quotas.keys`), which it replaces for this key. */
  limits: QuotaLimitsSchema.optional(),
  /** The key's own USD budget, likewise. */
  budget: QuotaBudgetSchema.optional(),
  /** Past this instant the key is refused everywhere (401), as if revoked. */
  expiresAt: InstantSchema.optional(),
});

export const ApiKeyRecordSchema = ApiKeyInputSchema.extend({
  id: z.string().min(1),
  /** The first characters of the secret, to tell keys apart in listings (not enough to use it). */
  prefix: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});

/**
 * updateApiKey: a field left out is kept, `null` clears it. The scope is fixed at creation (a new key is
 * the way to change it), so a leaked client key's record cannot be turned into an admin one by a typo.
 */
export const ApiKeyUpdateSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  routes: z.array(z.string().min(1)).nullable().optional(),
  models: z.array(z.string().min(1)).nullable().optional(),
  team: z.string().min(1).nullable().optional(),
  user: z.string().min(1).nullable().optional(),
  limits: QuotaLimitsSchema.nullable().optional(),
  budget: QuotaBudgetSchema.nullable().optional(),
  expiresAt: InstantSchema.nullable().optional(),
});

export type ApiKeyInput = z.input<typeof ApiKeyInputSchema>;
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;
export type ApiKeyUpdate = z.input<typeof ApiKeyUpdateSchema>;

/** The record after `update` (validated again as a whole); both store backends apply patches with it. */
export function applyApiKeyUpdate(record: ApiKeyRecord, update: ApiKeyUpdate): ApiKeyRecord {
  const patch = ApiKeyUpdateSchema.parse(update);
  const next: Record<string, unknown> = { ...record };
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = value;
  }
  return ApiKeyRecordSchema.parse(next);
}

/** Whether a key with this `expiresAt` is expired at `nowMs` (epoch ms). */
export function isExpired(expiresAt: string | undefined, nowMs: number): boolean {
  return expiresAt !== undefined && Date.parse(expiresAt) <= nowMs;
}
