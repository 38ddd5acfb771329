import { GatewayError, type Principal } from '../core/index.ts';
import type { CatalogModel } from './catalog.ts';

/**
 * What an API key may use: the one rule every path applies (the request path's route resolution, the
 * cache before it serves a hit, embeddings, and the reads that show routes).
 *
 * - Routes: a key with `routes` may run requests only on those routes; without it, on every route.
 * - Pinned models (`model` naming a model id or a `provider/model` deployment, chat or embeddings):
 *   - a key with `models` may pin exactly what that list names (model ids, or deployments);
 *   - else a key with `routes` may pin only deployments that are targets of its routes, so pinning
 *     cannot reach what its routes do not;
 *   - else (no restriction) anything.
 *   A bare model id with several deployments is narrowed to the allowed ones.
 * - Reads (GraphQL `route`/`routes`, REST `/v1/models`): a client key sees only the routes it may use;
 *   admin keys see every route, since they manage them.
 *
 * The routing table changes at run time (upsertRoute), so reachability is read from it on every call.
 */

/** The part of the routing table the rule reads. */
export interface RouteLookup {
  get(name: string): { route: { targets: readonly { provider: string; model: string }[] } } | undefined;
}

/** May `principal` run requests on route `name`? */
export function mayUseRoute(principal: Principal | undefined, name: string): boolean {
  return !principal?.routes || principal.routes.includes(name);
}

/** May `principal` see route `name` and its targets? */
export function maySeeRoute(principal: Principal | undefined, name: string): boolean {
  return principal?.scope === 'admin' || mayUseRoute(principal, name);
}

/** Throws `forbidden` (param `route`) unless `principal` may run requests on route `name`. */
export function authorizeRoute(principal: Principal | undefined, name: string): void {
  if (!mayUseRoute(principal, name)) {
    throw new GatewayError('forbidden', `key "${principal!.name}" may not use route "${name}"`, { param: 'route' });
  }
}

function mayPin(principal: Principal, entry: CatalogModel, routes: RouteLookup): boolean {
  const provider = entry.provider.id;
  const model = entry.model.id;
  if (principal.models) return principal.models.includes(model) || principal.models.includes(`${provider}/${model}`);
  if (!principal.routes) return true;
  return principal.routes.some((name) => routes.get(name)?.route.targets.some((t) => t.provider === provider && t.model === model) === true);
}

/** The deployments among `entries` that `principal` may pin (all of them for an unrestricted key). */
export function pinnableDeployments<E extends CatalogModel>(principal: Principal | undefined, entries: readonly E[], routes: RouteLookup): E[] {
  if (!principal || (!principal.models && !principal.routes)) return [...entries];
  return entries.filter((e) => mayPin(principal, e, routes));
}

/**
 * The deployments of a pinned model (`ref` as the client wrote it) that `principal` may use; throws
 * `forbidden` (param `model`) when there are some but none is allowed. An empty `entries` is returned
 * as is: an unknown model is the caller's `not_found`, not a denial.
 */
export function authorizePin<E extends CatalogModel>(principal: Principal | undefined, ref: string, entries: readonly E[], routes: RouteLookup): E[] {
  const allowed = pinnableDeployments(principal, entries, routes);
  if (entries.length > 0 && allowed.length === 0) {
    const why = principal!.models ? 'it is not in the key\'s models list' : `it is not a target of the key's routes (${principal!.routes!.join(', ')})`;
    throw new GatewayError('forbidden', `key "${principal!.name}" may not use model "${ref}": ${why}`, { param: 'model' });
  }
  return allowed;
}
