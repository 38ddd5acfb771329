import type { Principal } from '../src/core/index.ts';
import type { GraphQLContext } from './context.ts';

export interface Viewer {
  name: string;
  scope: Principal['scope'];
  localMode: boolean;
  team: string | null;
}

/** The caller, for a client (the web console) that adapts to its scope; only what the principal already says. */
export const viewerResolvers = {
  Query: {
    viewer: (_: unknown, _args: unknown, ctx: GraphQLContext): Viewer => ({
      name: ctx.principal.name,
      scope: ctx.principal.scope,
      localMode: ctx.localMode,
      team: ctx.principal.team ?? null,
    }),
  },
};
