import type { RouteConfig } from '../config/index.ts';
import { GatewayError } from '../core/index.ts';
import type { Target } from '../router/route-plan.ts';
import type { RouteTable, VersionedRoute } from '../router/route-table.ts';
import type { Catalog } from './catalog.ts';
import type { GatewayRequest, Principal } from './completion.ts';

export interface RouteResolverDeps {
  catalog: Catalog;
  routes: RouteTable;
  /** The route used when a request names neither a route nor a model (config `defaults.route`). */
  defaultRoute: string;
}

/**
 * Where a request may go before any planning: the named route, the route named in `model` (REST clients
 * put route names there), or a synthetic route over every deployment of a pinned model — each checked
 * against what the caller's key may use.
 */
export function createRouteResolver(deps: RouteResolverDeps) {
  const { catalog, routes } = deps;

  function authorize(principal: Principal | undefined, route: string | undefined, model: string | undefined): void {
    if (!principal) return;
    if (route !== undefined && principal.routes && !principal.routes.includes(route)) {
      throw new GatewayError('forbidden', `key "${principal.name}" may not use route "${route}"`, { param: 'route' });
    }
    if (model !== undefined && principal.models && !principal.models.includes(model)) {
      throw new GatewayError('forbidden', `key "${principal.name}" may not use model "${model}"`, { param: 'model' });
    }
  }

  /** The route a request runs on: a named route, or a synthetic one over every deployment of a pinned model. */
  function resolve(req: GatewayRequest): { route: RouteConfig; version: number; targets: Target[] } {
    if (req.model !== undefined) {
      const named = routes.get(req.model);
      // REST clients put route names in `model`; a route wins over a model of the same name.
      if (named && req.route === undefined) {
        authorize(req.principal, named.route.name, undefined);
        return { route: named.route, version: named.version, targets: catalog.targetsOf(named.route) };
      }
      const entries = catalog.resolveModel(req.model);
      if (entries.length === 0) {
        throw new GatewayError('not_found', `unknown model or route "${req.model}"`, { param: 'model' });
      }
      authorize(req.principal, undefined, entries[0]!.model.id);
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
    authorize(req.principal, name, undefined);
    return { route: found.route, version: found.version, targets: catalog.targetsOf(found.route) };
  }

  return { authorize, resolve };
}
