import DataLoader from 'dataloader';
import { GatewayError, TeamInputSchema, type ApiKeyRecord, type BudgetEvent, type Principal } from '../src/core/index.ts';
import type { Governance, QuotaLineView, TeamView } from '../src/governance/governance.ts';
import type { QuotaSubject } from '../src/governance/quota-subjects.ts';
import type { GraphQLContext } from './context.ts';
import { cleanInput, validated } from './governance-input.ts';
import { requireAdmin } from './require-admin.ts';

function governanceOf(ctx: GraphQLContext): Governance {
  const g = ctx.governance;
  if (!g) throw new GatewayError('unsupported_feature', 'teams and budgets need the store (not wired in this server)');
  return g;
}

/** One store read per response for every subject its fields ask about (keys of a listing, teams). */
const loaders = new WeakMap<GraphQLContext, DataLoader<QuotaSubject, QuotaLineView, string>>();

function loaderOf(ctx: GraphQLContext): DataLoader<QuotaSubject, QuotaLineView, string> {
  let loader = loaders.get(ctx);
  if (!loader) {
    const g = governanceOf(ctx);
    loader = new DataLoader((subjects) => g.view(subjects), { cacheKeyFn: (s) => s.id });
    loaders.set(ctx, loader);
  }
  return loader;
}

async function viewsOf(ctx: GraphQLContext, subjects: readonly QuotaSubject[]): Promise<QuotaLineView[]> {
  return subjects.length === 0 ? [] : Promise.all(subjects.map((s) => loaderOf(ctx).load(s)));
}

function mayReadTeam(p: Principal, name: string): boolean {
  return p.scope === 'admin' || p.team === name;
}

/**
 * The budgetEvents source: every instance's events as they arrive, ended when the socket closes, the server
 * shuts down, or the client completes the subscription.
 */
function budgetEvents(g: Governance, ctx: GraphQLContext): AsyncIterableIterator<BudgetEvent> {
  const queue: BudgetEvent[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    for (const s of parents) s.removeEventListener('abort', end);
    wake?.();
  };
  const unsubscribe = g.subscribe((e) => {
    // A subscriber that stopped reading must not hold events without bound.
    if (queue.length < 1_000) queue.push(e);
    wake?.();
  });
  const parents = [ctx.signal, ctx.shutdown].filter((s): s is AbortSignal => s !== undefined);
  for (const s of parents) {
    if (s.aborted) end();
    else s.addEventListener('abort', end, { once: true });
  }
  const iterator: AsyncIterableIterator<BudgetEvent> = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      for (;;) {
        if (queue.length > 0) return { done: false, value: queue.shift()! };
        if (ended) return { done: true, value: undefined };
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
    async return() {
      end();
      return { done: true, value: undefined };
    },
  };
  return iterator;
}

export const governanceResolvers = {
  Query: {
    budgets: (_: unknown, _args: unknown, ctx: GraphQLContext) => governanceOf(ctx).lines(ctx.principal),
    teamQuotas: (_: unknown, _args: unknown, ctx: GraphQLContext): TeamView[] => {
      requireAdmin(ctx.principal);
      return governanceOf(ctx).teams();
    },
    teamQuota: (_: unknown, args: { name: string }, ctx: GraphQLContext): TeamView | null => {
      if (!mayReadTeam(ctx.principal, args.name)) return null;
      return governanceOf(ctx).team(args.name) ?? null;
    },
  },
  Mutation: {
    upsertTeam: async (_: unknown, args: { input: Record<string, unknown> }, ctx: GraphQLContext): Promise<TeamView> => {
      requireAdmin(ctx.principal);
      const g = governanceOf(ctx);
      const input = validated(TeamInputSchema, cleanInput(args.input), ctx);
      await g.upsertTeam(input);
      return g.team(input.name)!;
    },
    deleteTeam: (_: unknown, args: { name: string }, ctx: GraphQLContext): Promise<boolean> => {
      requireAdmin(ctx.principal);
      return governanceOf(ctx).deleteTeam(args.name);
    },
  },
  Subscription: {
    budgetEvents: {
      subscribe: (_: unknown, _args: unknown, ctx: GraphQLContext) => {
        requireAdmin(ctx.principal);
        return budgetEvents(governanceOf(ctx), ctx);
      },
      resolve: (e: BudgetEvent) => e,
    },
  },
  BudgetLine: {
    keyId: (l: QuotaLineView) => l.keyId ?? null,
    budget: (l: QuotaLineView) => l.budget ?? null,
    limits: (l: QuotaLineView) => l.limits ?? null,
  },
  TeamQuota: {
    budget: async (t: TeamView, _args: unknown, ctx: GraphQLContext) => (t.subject?.budget ? ((await viewsOf(ctx, [t.subject]))[0]?.budget ?? null) : null),
    limits: async (t: TeamView, _args: unknown, ctx: GraphQLContext) => (t.subject?.limits ? ((await viewsOf(ctx, [t.subject]))[0]?.limits ?? null) : null),
  },
  Budget: {
    softRoute: (b: { softRoute?: string | undefined }) => b.softRoute ?? null,
  },
  BudgetEvent: {
    at: (e: BudgetEvent) => new Date(e.at),
  },
  ApiKey: {
    expiresAt: (k: ApiKeyRecord) => (k.expiresAt === undefined ? null : new Date(k.expiresAt)),
    budget: async (k: ApiKeyRecord, _args: unknown, ctx: GraphQLContext) => {
      const views = await viewsOf(ctx, governanceOf(ctx).keySubjects(k).filter((s) => s.budget));
      return views[0]?.budget ?? null;
    },
    limits: async (k: ApiKeyRecord, _args: unknown, ctx: GraphQLContext) => {
      const views = await viewsOf(ctx, governanceOf(ctx).keySubjects(k).filter((s) => s.limits));
      return views[0]?.limits ?? null;
    },
  },
  BudgetPeriod: { DAY: 'day', WEEK: 'week', MONTH: 'month' },
  BudgetSubjectKind: { KEY: 'key', TEAM: 'team', ORG: 'org', PROVIDER: 'provider', ROUTE: 'route' },
  QuotaSource: { CONFIG: 'config', RUNTIME: 'runtime' },
};
