import { RouteConfigSchema, formatPath, type RouteConfig } from '../src/config/index.ts';
import type { RoutePlan } from '../src/router/route-plan.ts';
import type { VersionedRoute } from '../src/router/route-table.ts';
import { requireAdmin } from '../src/server/authenticator.ts';
import { toGatewayRequest, type CompletionInputArgs } from './completion-input.ts';
import type { GraphQLContext } from './context.ts';
import { badUserInput } from './errors.ts';
import { targetFields } from './provider.ts';

export interface RouteInputArgs {
  name: string;
  strategy?: 'priority' | null;
  targets: Array<{ provider: string; model: string; weight?: number | null }>;
  maxAttempts?: number | null;
  deadlineMs?: number | null;
  resumeStreams?: boolean | null;
}

const nn = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/**
 * RouteInput → RouteConfig through the config file's own schema (same defaults, same messages), then the
 * cross-checks config loading does: every target must name a configured provider and one of its models.
 */
export function toRouteConfig(input: RouteInputArgs, ctx: GraphQLContext): RouteConfig {
  const raw = {
    name: input.name,
    ...(nn(input.strategy) !== undefined && { strategy: input.strategy }),
    targets: input.targets.map((t) => ({ provider: t.provider, model: t.model, ...(nn(t.weight) !== undefined && { weight: t.weight }) })),
    ...(nn(input.maxAttempts) !== undefined && { maxAttempts: input.maxAttempts }),
    ...(nn(input.deadlineMs) !== undefined && { deadlineMs: input.deadlineMs }),
    ...(nn(input.resumeStreams) !== undefined && { resumeStreams: input.resumeStreams }),
  };
  const problems: Array<[string, string]> = [];
  const parsed = RouteConfigSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push([formatPath(['input', ...issue.path]), issue.message.replace(/^Invalid input: /, '')]);
  } else {
    parsed.data.targets.forEach((t, i) => {
      const provider = ctx.gateway.catalog.provider(t.provider);
      if (!provider) problems.push([`input.targets[${i}].provider`, `unknown provider "${t.provider}"`]);
      else if (!ctx.gateway.catalog.get(t.provider, t.model)) problems.push([`input.targets[${i}].model`, `provider "${t.provider}" has no model "${t.model}"`]);
    });
  }
  if (problems.length > 0 || !parsed.success) {
    throw badUserInput(problems.map(([p, m]) => `${p}: ${m}`).join('; '), problems[0]?.[0]);
  }
  return parsed.data;
}

export const routeResolvers = {
  Query: {
    routes: (_: unknown, _args: unknown, ctx: GraphQLContext) => ctx.gateway.routes.list(),
    route: (_: unknown, args: { name: string }, ctx: GraphQLContext) => ctx.gateway.routes.get(args.name) ?? null,
    explainRoute: (_: unknown, args: { input: CompletionInputArgs }, ctx: GraphQLContext): RoutePlan =>
      ctx.gateway.explain(toGatewayRequest(args.input, ctx)),
  },
  Mutation: {
    upsertRoute: (_: unknown, args: { input: RouteInputArgs }, ctx: GraphQLContext): VersionedRoute => {
      requireAdmin(ctx.principal);
      return ctx.gateway.routes.upsert(toRouteConfig(args.input, ctx));
    },
    deleteRoute: (_: unknown, args: { name: string }, ctx: GraphQLContext): boolean => {
      requireAdmin(ctx.principal);
      return ctx.gateway.routes.delete(args.name);
    },
  },
  Route: {
    __resolveReference: (ref: { name: string }, ctx: GraphQLContext) => ctx.gateway.routes.get(ref.name) ?? null,
    name: (r: VersionedRoute) => r.route.name,
    strategy: (r: VersionedRoute) => r.route.strategy,
    version: (r: VersionedRoute) => r.version,
    targets: (r: VersionedRoute) => r.route.targets,
    maxAttempts: (r: VersionedRoute) => r.route.maxAttempts,
    deadlineMs: (r: VersionedRoute) => r.route.deadlineMs,
    resumeStreams: (r: VersionedRoute) => r.route.resumeStreams,
  },
  RouteTarget: targetFields,
  RouteExclusion: targetFields,
  RouteExplanation: {
    chosen: (p: RoutePlan) => p.candidates[0] ?? null,
  },
};
