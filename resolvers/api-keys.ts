import { ApiKeyInputSchema, GatewayError, issueMessage, type ApiKeyRecord } from '../src/core/index.ts';
import type { ApiKeyAdmin } from '../src/gateway/services.ts';
import type { GraphQLContext } from './context.ts';
import { badUserInput } from './errors.ts';
import { requireAdmin } from './require-admin.ts';

interface ApiKeyInputArgs {
  name: string;
  scope?: 'admin' | 'client' | null;
  routes?: string[] | null;
  models?: string[] | null;
  team?: string | null;
  user?: string | null;
}

function admin(ctx: GraphQLContext): ApiKeyAdmin {
  requireAdmin(ctx.principal);
  const keys = ctx.apiKeys;
  if (!keys) throw new GatewayError('unsupported_feature', 'runtime API keys need the store (not wired in this server)');
  return keys;
}

function parseInput(input: ApiKeyInputArgs) {
  const raw = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined));
  const parsed = ApiKeyInputSchema.safeParse(raw);
  if (!parsed.success) {
    // Dotted (`input.routes.0`): the messages clients already see for this mutation.
    const problems = parsed.error.issues.map((i) => [`input.${i.path.join('.')}`, issueMessage(i)] as const);
    throw badUserInput(problems.map(([p, m]) => `${p}: ${m}`).join('; '), problems[0]?.[0]);
  }
  return parsed.data;
}

export const apiKeyResolvers = {
  Query: {
    apiKeys: (_: unknown, _args: unknown, ctx: GraphQLContext): Promise<ApiKeyRecord[]> => admin(ctx).list(),
  },
  Mutation: {
    createApiKey: (_: unknown, args: { input: ApiKeyInputArgs }, ctx: GraphQLContext) => admin(ctx).create(parseInput(args.input)),
    revokeApiKey: (_: unknown, args: { id: string }, ctx: GraphQLContext): Promise<boolean> => admin(ctx).revoke(args.id),
  },
  ApiKey: {
    routes: (k: ApiKeyRecord) => k.routes ?? null,
    models: (k: ApiKeyRecord) => k.models ?? null,
    team: (k: ApiKeyRecord) => k.team ?? null,
    user: (k: ApiKeyRecord) => k.user ?? null,
    createdAt: (k: ApiKeyRecord) => new Date(k.createdAt),
    revokedAt: (k: ApiKeyRecord) => (k.revokedAt === null ? null : new Date(k.revokedAt)),
  },
};
