import type { RouteConfig } from '../config/index.ts';
import { GatewayError } from '../core/index.ts';
import type { Target } from '../router/route-plan.ts';
import type { RouteTable, VersionedRoute } from '../router/route-table.ts';
import type { Catalog } from './catalog.ts';
import { authorizePin, authorizeRoute } from './access-rule.ts';
import type { GatewayRequest } from './completion.ts';

export interface RouteResolverDeps {
  catalog: Catalog;
  routes: RouteTable;
  /** The route used when a request names neither a route nor a model (config `defaults.route`). */
  defaultRoute: string;
}

/**
 * Where a request may go before any planning: the named route, the route named in `model` (REST clients
 * put route names there), or a synthetic route over the deployments of a pinned model — each checked
 * against what the caller's key may use (access-rule.ts); a pinned model runs only on the deployments the
 * key may pin.
 */
export function createRouteResolver(deps: RouteResolverDeps) {
  const { catalog, routes } = deps;

  /** The route a request runs on: a named route, or a synthetic one over the deployments of a pinned model the key may pin. */
  function resolve(req: GatewayRequest): { route: RouteConfig; version: number; targets: Target[] } {
    if (req.model !== undefined) {
      const named = routes.get(req.model);
      // REST clients put route names in `model`; a route wins over a model of the same name.
      if (named && req.route === undefined) {
        authorizeRoute(req.principal, named.route.name);
        return { route: named.route, version: named.version, targets: catalog.targetsOf(named.route) };
      }
      const known = catalog.resolveModel(req.model);
      if (known.length === 0) {
        throw new GatewayError('not_found', `unknown model or route "${req.model}"`, { param: 'model' });
      }
      const entries = authorizePin(req.principal, req.model, known, routes);
      const route: RouteConfig = {
        name: `model:${req.model}`,
        strategy: 'priority',
        targets: entries.map((e) => ({ provider: e.provider.id, model: e.model.id, weight: 1 })),
        maxAttempts: Math.max(2, entries.length * 2),
        deadlineMs: 120_000,
        resumeStreams: false,
        expectedOutputTokens: 256,
      };
      return { route, version: 0, targets: entries.map((e) => e.target) };
    }
    const name = req.route ?? deps.defaultRoute;
    const found: VersionedRoute | undefined = routes.get(name);
    if (!found) throw new GatewayError('not_found', `unknown route "${name}"`, { param: 'route' });
    authorizeRoute(req.principal, name);
    return { route: found.route, version: found.version, targets: catalog.targetsOf(found.route) };
  }

  return { resolve };
}
