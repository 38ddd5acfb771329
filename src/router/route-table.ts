import type { RouteConfig } from '../config/index.ts';

export interface VersionedRoute {
  route: RouteConfig;
  /** Bumped on every change of this route; completions, headers and traces carry it. */
  version: number;
}

/** A change that came from the shared store: `version` is the store's (monotonic across instances). */
export type SharedRouteChange =
  | { op: 'upsert'; version: number; name: string; route: RouteConfig }
  | { op: 'delete'; version: number; name: string };

/**
 * Where runtime changes go when routes are shared by several instances (the store): the change is
 * persisted and published there, and every instance (this one included) applies it with `apply`.
 */
export interface RoutePersistence {
  upsert(route: RouteConfig): Promise<number>;
  delete(name: string): Promise<number>;
}

/**
 * The routing table: routes from config plus runtime changes (`upsertRoute` / `deleteRoute`).
 * Callers validate routes with the config schema before upserting, so both paths accept the same input.
 *
 * Versions: config routes are numbered 1..n in file order; a shared change with store version v becomes
 * version n + v on every instance, so all instances (same config) agree on a route's version.
 */
export class RouteTable {
  private readonly routes = new Map<string, VersionedRoute>();
  private nextVersion = 1;
  private readonly base: number;
  private readonly config = new Map<string, RouteConfig>();
  /** The store version last applied per route name, so replays and late messages change nothing. */
  private readonly applied = new Map<string, number>();
  private persistence: RoutePersistence | undefined;

  constructor(routes: readonly RouteConfig[] = []) {
    for (const r of routes) {
      this.upsert(r);
      this.config.set(r.name, r);
    }
    this.base = this.nextVersion - 1;
  }

  get(name: string): VersionedRoute | undefined {
    return this.routes.get(name);
  }

  list(): VersionedRoute[] {
    return [...this.routes.values()];
  }

  /** The routes a runtime change (upsertRoute) defines: they win over the config file's, reloads included. */
  runtimeRoutes(): VersionedRoute[] {
    return [...this.applied.keys()].flatMap((name) => this.routes.get(name) ?? []);
  }

  upsert(route: RouteConfig): VersionedRoute {
    const v = { route, version: this.nextVersion++ };
    this.routes.set(route.name, v);
    return v;
  }

  delete(name: string): boolean {
    return this.routes.delete(name);
  }

  /** Makes runtime changes go through the shared store (set once at start-up when the store is shared). */
  share(persistence: RoutePersistence): void {
    this.persistence = persistence;
  }

  /** A runtime upsert: persisted and published first when shared, then applied here. */
  async commitUpsert(route: RouteConfig): Promise<VersionedRoute> {
    if (!this.persistence) return this.upsert(route);
    const version = await this.persistence.upsert(route);
    this.apply({ op: 'upsert', version, name: route.name, route });
    return this.routes.get(route.name) ?? { route, version: this.base + version };
  }

  /** A runtime delete; false when there was no such route. */
  async commitDelete(name: string): Promise<boolean> {
    if (!this.persistence) return this.delete(name);
    if (!this.routes.has(name)) return false;
    const version = await this.persistence.delete(name);
    this.apply({ op: 'delete', version, name });
    return true;
  }

  /**
   * The config file's routes changed (a reload): each route whose definition changed gets a new version (so
   * completions and cached answers tell the old targets from the new), an unchanged one keeps its version, a
   * route gone from the file goes. A route changed at run time (upsertRoute) stays as the store has it: the
   * runtime change wins over the file, as at start-up. Returns the names of the routes that changed.
   */
  reloadConfig(routes: readonly RouteConfig[]): string[] {
    const changed: string[] = [];
    const next = new Map(routes.map((r) => [r.name, r]));
    for (const name of this.config.keys()) {
      if (next.has(name)) continue;
      this.config.delete(name);
      if (this.applied.has(name)) continue;
      this.routes.delete(name);
      changed.push(name);
    }
    for (const r of routes) {
      const before = this.config.get(r.name);
      this.config.set(r.name, r);
      if (this.applied.has(r.name)) continue;
      if (before !== undefined && JSON.stringify(before) === JSON.stringify(r) && this.routes.has(r.name)) continue;
      this.upsert(r);
      changed.push(r.name);
    }
    return changed;
  }

  /** Applies a change from the store unless this route already has it or a newer one. */
  apply(change: SharedRouteChange): boolean {
    if ((this.applied.get(change.name) ?? 0) >= change.version) return false;
    this.applied.set(change.name, change.version);
    // Never below the version the route has now: a config reload may have moved it past base + store version.
    const version = Math.max(this.base + change.version, (this.routes.get(change.name)?.version ?? 0) + 1);
    this.nextVersion = Math.max(this.nextVersion, version + 1);
    if (change.op === 'upsert') this.routes.set(change.name, { route: change.route, version });
    else this.routes.delete(change.name);
    return true;
  }

  /**
   * Reloads from a snapshot of the store (at start-up and after a reconnect, when messages may have been
   * missed): every route changed at run time takes its latest change; the others are config's.
   */
  reset(changes: readonly SharedRouteChange[]): void {
    const latest = new Map<string, SharedRouteChange>();
    for (const c of changes) if ((latest.get(c.name)?.version ?? 0) < c.version) latest.set(c.name, c);
    for (const c of latest.values()) this.apply(c);
    // A route whose changes were all dropped from the store is config's again (or gone).
    for (const name of [...this.applied.keys()]) {
      if (latest.has(name)) continue;
      this.applied.delete(name);
      const fromConfig = this.config.get(name);
      if (fromConfig) this.routes.set(name, { route: fromConfig, version: this.routes.get(name)?.version ?? this.nextVersion++ });
      else this.routes.delete(name);
    }
  }
}
