import { GatewayError } from '../src/core/index.ts';
import type { GraphQLContext } from './context.ts';
import { requireAdmin } from './require-admin.ts';

/** Query.configVersion and Mutation.reloadConfig: the running config and its reload (admin only). */
export const configResolvers = {
  Query: {
    configVersion: (_: unknown, _args: unknown, ctx: GraphQLContext) => {
      requireAdmin(ctx.principal);
      return ctx.configControl?.version() ?? null;
    },
  },
  Mutation: {
    reloadConfig: async (_: unknown, _args: unknown, ctx: GraphQLContext) => {
      requireAdmin(ctx.principal);
      if (!ctx.configControl) throw new GatewayError('unsupported_feature', 'the gateway runs its built-in config: there is no config file to reload');
      return ctx.configControl.reload('reloadConfig mutation');
    },
  },
};
