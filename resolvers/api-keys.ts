import { ApiKeyInputSchema, ApiKeyUpdateSchema, GatewayError, type ApiKeyRecord } from '../src/core/index.ts';
import type { ApiKeyAdmin } from '../src/gateway/services.ts';
import type { GraphQLContext } from './context.ts';
import { cleanInput, cleanUpdate, validated } from './governance-input.ts';
import { requireAdmin } from './require-admin.ts';

type ApiKeyInputArgs = Record<string, unknown>;

function admin(ctx: GraphQLContext): ApiKeyAdmin {
  requireAdmin(ctx.principal);
  const keys = ctx.apiKeys;
  if (!keys) throw new GatewayError('unsupported_feature', 'runtime API keys need the store (not wired in this server)');
  return keys;
}

/** Dotted paths (`input.routes.0`, `input.budget.usd`): the messages clients already see for these mutations. */
function parseInput(input: ApiKeyInputArgs, ctx: GraphQLContext) {
  return validated(ApiKeyInputSchema, cleanInput(input), ctx, (key) =>
    key.expiresAt !== undefined && Date.parse(key.expiresAt) <= Date.now() ? [['input.expiresAt', 'must be in the future']] : [],
  );
}

async function update(args: { id: string; input: ApiKeyInputArgs }, ctx: GraphQLContext): Promise<ApiKeyRecord> {
  const keys = admin(ctx);
  const patch = validated(ApiKeyUpdateSchema, cleanUpdate(args.input), ctx);
  const key = await keys.update(args.id, patch);
  if (!key) throw new GatewayError('not_found', `no active API key "${args.id}"`, { param: 'id' });
  return key;
}

export const apiKeyResolvers = {
  Query: {
    apiKeys: (_: unknown, _args: unknown, ctx: GraphQLContext): Promise<ApiKeyRecord[]> => admin(ctx).list(),
  },
  Mutation: {
    createApiKey: (_: unknown, args: { input: ApiKeyInputArgs }, ctx: GraphQLContext) => admin(ctx).create(parseInput(args.input, ctx)),
    updateApiKey: (_: unknown, args: { id: string; input: ApiKeyInputArgs }, ctx: GraphQLContext) => update(args, ctx),
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
