import { RouteConfigSchema, type RouteConfig } from '../src/config/index.ts';
import { issueProblems } from '../src/core/index.ts';
import { maySeeRoute } from '../src/gateway/access-rule.ts';
import type { RoutePlan } from '../src/router/route-plan.ts';
import type { VersionedRoute } from '../src/router/route-table.ts';
import { toGatewayRequest, type CompletionInputArgs } from './completion-input.ts';
import type { GraphQLContext } from './context.ts';
import { badUserInput } from './errors.ts';
import { targetFields } from './provider.ts';
import { requireAdmin } from './require-admin.ts';

interface WhenInputArgs {
  task?: string[] | null;
  minInputTokens?: number | null;
  maxInputTokens?: number | null;
  capabilities?: string[] | null;
  metadata?: unknown;
}

export interface RouteInputArgs {
  name: string;
  strategy?: RouteConfig['strategy'] | null;
  targets: Array<{ provider: string; model: string; weight?: number | null; when?: WhenInputArgs | null; tier?: 'fast' | 'balanced' | 'best' | null }>;
  maxAttempts?: number | null;
  deadlineMs?: number | null;
  resumeStreams?: boolean | null;
  streamTimeouts?: { firstTokenMs?: number | null; idleMs?: number | null } | null;
  expectedOutputTokens?: number | null;
  validator?: { jsonSchema?: unknown; nonEmpty?: boolean | null; regex?: string | null; maxLength?: number | null; refusal?: boolean | null } | null;
  promptCache?: { system?: boolean | null; tools?: boolean | null } | null;
  unsupportedParams?: 'refuse' | 'drop' | null;
  onContentFilter?: 'stop' | 'fallback' | null;
}

/** Drops null/undefined fields, so the config schema applies its defaults as it does for a file. */
function defined(o: Record<string, unknown> | null | undefined): Record<string, unknown> | undefined {
  if (o == null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v != null) out[k] = v;
  return out;
}

const nn = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/**
 * RouteInput → RouteConfig through the config file's own schema (same defaults, same messages), then the
 * cross-checks config loading does: every target must name a configured provider and one of its models.
 */
export function toRouteConfig(input: RouteInputArgs, ctx: Pick<GraphQLContext, 'catalog'>, argument = 'input'): RouteConfig {
  const raw = {
    name: input.name,
    ...(nn(input.strategy) !== undefined && { strategy: input.strategy }),
    targets: input.targets.map((t) =>
      defined({ provider: t.provider, model: t.model, weight: t.weight, when: defined(t.when as Record<string, unknown> | null | undefined), tier: t.tier }),
    ),
    ...(nn(input.maxAttempts) !== undefined && { maxAttempts: input.maxAttempts }),
    ...(nn(input.deadlineMs) !== undefined && { deadlineMs: input.deadlineMs }),
    ...(nn(input.resumeStreams) !== undefined && { resumeStreams: input.resumeStreams }),
    ...(input.streamTimeouts != null && { streamTimeouts: defined(input.streamTimeouts) }),
    ...(nn(input.expectedOutputTokens) !== undefined && { expectedOutputTokens: input.expectedOutputTokens }),
    ...(input.validator != null && { validator: defined(input.validator) }),
    ...(input.promptCache != null && { promptCache: defined(input.promptCache) }),
    ...(nn(input.unsupportedParams) !== undefined && { unsupportedParams: input.unsupportedParams }),
    ...(nn(input.onContentFilter) !== undefined && { onContentFilter: input.onContentFilter }),
  };
  const problems: Array<[string, string]> = [];
  const parsed = RouteConfigSchema.safeParse(raw);
  if (!parsed.success) {
    problems.push(...issueProblems(parsed.error.issues, [argument]));
  } else {
    parsed.data.targets.forEach((t, i) => {
      const provider = ctx.catalog.provider(t.provider);
      if (!provider) problems.push([`${argument}.targets[${i}].provider`, `unknown provider "${t.provider}"`]);
      else if (!ctx.catalog.get(t.provider, t.model)) problems.push([`${argument}.targets[${i}].model`, `provider "${t.provider}" has no model "${t.model}"`]);
    });
  }
  if (problems.length > 0 || !parsed.success) {
    throw badUserInput(problems.map(([p, m]) => `${p}: ${m}`).join('; '), problems[0]?.[0]);
  }
  return parsed.data;
}

/** A route by name, or null when there is none or the caller's key may not see it. */
function visibleRoute(ctx: GraphQLContext, name: string): VersionedRoute | null {
  return maySeeRoute(ctx.principal, name) ? (ctx.routes.get(name) ?? null) : null;
}

export const routeResolvers = {
  Query: {
    // A client key limited to routes sees only those (as completions: what it may not see reads as absent).
    routes: (_: unknown, _args: unknown, ctx: GraphQLContext) => ctx.routes.list().filter((r) => maySeeRoute(ctx.principal, r.route.name)),
    route: (_: unknown, args: { name: string }, ctx: GraphQLContext) => visibleRoute(ctx, args.name),
    explainRoute: (_: unknown, args: { input: CompletionInputArgs; draft?: RouteInputArgs | null }, ctx: GraphQLContext): Promise<RoutePlan> => {
      if (!args.draft) return ctx.gateway.explain(toGatewayRequest(args.input, ctx));
      // A draft is a route definition: only those who may save one may try one.
      requireAdmin(ctx.principal);
      const draft = toRouteConfig(args.draft, ctx, 'draft');
      return ctx.gateway.explain(toGatewayRequest({ ...args.input, route: draft.name, model: null }, ctx), draft);
    },
  },
  Mutation: {
    // Through the store when routes are shared: persisted, published, and applied on every instance.
    upsertRoute: (_: unknown, args: { input: RouteInputArgs }, ctx: GraphQLContext): Promise<VersionedRoute> => {
      requireAdmin(ctx.principal);
      return ctx.routes.commitUpsert(toRouteConfig(args.input, ctx));
    },
    deleteRoute: (_: unknown, args: { name: string }, ctx: GraphQLContext): Promise<boolean> => {
      requireAdmin(ctx.principal);
      return ctx.routes.commitDelete(args.name);
    },
  },
  Route: {
    __resolveReference: (ref: { name: string }, ctx: GraphQLContext) => visibleRoute(ctx, ref.name),
    name: (r: VersionedRoute) => r.route.name,
    strategy: (r: VersionedRoute) => r.route.strategy,
    version: (r: VersionedRoute) => r.version,
    targets: (r: VersionedRoute) => r.route.targets,
    maxAttempts: (r: VersionedRoute) => r.route.maxAttempts,
    deadlineMs: (r: VersionedRoute) => r.route.deadlineMs,
    resumeStreams: (r: VersionedRoute) => r.route.resumeStreams,
    streamTimeouts: (r: VersionedRoute) => r.route.streamTimeouts ?? null,
    expectedOutputTokens: (r: VersionedRoute) => r.route.expectedOutputTokens,
    validator: (r: VersionedRoute) => r.route.validator ?? null,
    promptCache: (r: VersionedRoute) => r.route.promptCache ?? null,
    unsupportedParams: (r: VersionedRoute) => r.route.unsupportedParams ?? 'refuse',
    onContentFilter: (r: VersionedRoute) => r.route.onContentFilter ?? 'stop',
  },
  RouteTarget: {
    ...targetFields,
    when: (t: { when?: unknown }) => t.when ?? null,
    tier: (t: { tier?: string }) => t.tier ?? null,
  },
  RouteExclusion: targetFields,
  RouteCandidate: targetFields,
  RouteExplanation: {
    chosen: (p: RoutePlan) => p.candidates[0] ?? null,
    strategy: (p: RoutePlan) => p.strategy ?? 'priority',
    candidateDetails: (p: RoutePlan, _args: unknown, ctx: GraphQLContext) =>
      p.candidates.map((t) => ({ provider: t.provider, model: t.model, ...ctx.insights.targetFigures(t, p) })),
  },
};
