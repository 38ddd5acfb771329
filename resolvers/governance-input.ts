import type { z } from 'zod';
import { issueMessage } from '../src/core/index.ts';
import type { GraphQLContext } from './context.ts';
import { badUserInput } from './errors.ts';

/** GraphQL input → plain values for zod: DateTime scalars as ISO strings; nulls dropped below the top level. */
function plain(value: unknown, keepNull: boolean): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => plain(v, false));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || (v === null && !keepNull)) continue;
      out[k] = plain(v, false);
    }
    return out;
  }
  return value;
}

/** An input whose nulls mean "not given" (create): every null is dropped. */
export function cleanInput(input: Record<string, unknown>): Record<string, unknown> {
  return plain(input, false) as Record<string, unknown>;
}

/** An update's input: a top-level null stays (it clears the field), nulls inside a value are dropped. */
export function cleanUpdate(input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== undefined) out[k] = v === null ? null : plain(v, false);
  return out;
}

/**
 * Parses with `schema`, then checks what zod cannot (a budget's soft route must exist): problems become one
 * BAD_USER_INPUT error naming each field (`input.budget.usd: …`), `param` the first.
 */
export function validated<S extends z.ZodType>(schema: S, raw: unknown, ctx: GraphQLContext, extra: (value: z.infer<S>) => Array<[string, string]> = () => []): z.infer<S> {
  const parsed = schema.safeParse(raw);
  const problems: Array<[string, string]> = parsed.success
    ? extra(parsed.data)
    : parsed.error.issues.map((i) => [`input.${i.path.map(String).join('.')}`, issueMessage(i)]);
  if (parsed.success) {
    const softRoute = (parsed.data as { budget?: { softRoute?: string } | null }).budget?.softRoute;
    if (softRoute !== undefined && !ctx.routes.get(softRoute)) problems.push(['input.budget.softRoute', `unknown route "${softRoute}"`]);
  }
  if (problems.length > 0) throw badUserInput(problems.map(([p, m]) => `${p}: ${m}`).join('; '), problems[0]![0]);
  return parsed.data as z.infer<S>;
}
