import { z } from 'zod';
import { PROVIDER_PROTOCOL_NAMES } from '../../core/protocols.ts';

/** A protocol's vendor-only parameters, merged into that protocol's request body as they are (as GraphQL's providerOptions). */
const ProtocolOptions = z.record(z.string(), z.unknown()).superRefine((o, ctx) => {
  // The deployment is the router's choice (access rules and prices hang on it), never the body's.
  if (Object.hasOwn(o, 'model')) ctx.addIssue({ code: 'custom', path: ['model'], message: 'the model is chosen by routing: name a route or model in the top-level `model`' });
});
const KNOWN_PROTOCOLS = new Set<string>(PROVIDER_PROTOCOL_NAMES);
const ProviderOptionsSchema = z.record(z.string(), ProtocolOptions).superRefine((o, ctx) => {
  for (const k of Object.keys(o)) {
    if (!KNOWN_PROTOCOLS.has(k)) ctx.addIssue({ code: 'custom', path: [k], message: `not a protocol (one of ${PROVIDER_PROTOCOL_NAMES.join(', ')})` });
  }
});

/**
 * Switchboard's own body extension: routing constraints, e.g. {"quality": "FAST", "deny": ["sim-openai"]},
 * and vendor parameters by protocol. Never sent upstream as such. `quality` is FAST | BALANCED | BEST (any
 * case); `allow`/`deny` take provider ids or `provider/model` deployments; `task` is matched by route
 * targets' `when.task`.
 */
const routingConstraints = {
  quality: z
    .string()
    .transform((q) => q.toLowerCase())
    .pipe(z.enum(['fast', 'balanced', 'best'], { error: 'expected FAST, BALANCED or BEST' }))
    .optional(),
  latencyBudgetMs: z.number().int().positive().optional(),
  costCeilingUsd: z.number().nonnegative().optional(),
  allow: z.array(z.string().min(1)).min(1, 'name at least one provider').optional(),
  deny: z.array(z.string().min(1)).optional(),
  task: z.string().min(1).optional(),
};
/** The routing constraints alone (what `/v1/messages` takes in its `switchboard`). */
export const SwitchboardConstraintsSchema = z.strictObject(routingConstraints);
export const SwitchboardSchema = z.strictObject({ ...routingConstraints, providerOptions: ProviderOptionsSchema.optional() });
