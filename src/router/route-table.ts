import type { RouteConfig } from '../config/index.ts';

export interface VersionedRoute {
  route: RouteConfig;
  /** Bumped on every change of this route; completions, headers and traces carry it. */
  version: number;
}

/**
 * The routing table: routes from config plus runtime changes (`upsertRoute` / `deleteRoute`).
 * Callers validate routes with the config schema before upserting, so both paths accept the same input.
 */
export class RouteTable {
  private readonly routes = new Map<string, VersionedRoute>();
  private nextVersion = 1;

  constructor(routes: readonly RouteConfig[] = []) {
    for (const r of routes) this.upsert(r);
  }

  get(name: string): VersionedRoute | undefined {
    return this.routes.get(name);
  }

  list(): VersionedRoute[] {
    return [...this.routes.values()];
  }

  upsert(route: RouteConfig): VersionedRoute {
    const v = { route, version: this.nextVersion++ };
    this.routes.set(route.name, v);
    return v;
  }

  delete(name: string): boolean {
    return this.routes.delete(name);
  }
}
