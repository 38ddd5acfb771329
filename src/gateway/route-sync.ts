import { RouteConfigSchema } from '../config/index.ts';
import type { RouteTable, SharedRouteChange } from '../router/route-table.ts';
import type { RouteChange, RouteStore } from '../store/store.ts';

/** A change as the store holds it, its route validated against the config schema (the store keeps JSON). */
export function routeChangeOf(change: RouteChange): SharedRouteChange {
  return change.op === 'upsert' ? { ...change, route: RouteConfigSchema.parse(change.route) } : change;
}

/**
 * Routes changed at run time are shared through the store: `upsertRoute` / `deleteRoute` persist and
 * publish there (RouteTable.commitUpsert / commitDelete), every instance applies each published change as
 * it arrives, and a snapshot is reloaded at start-up and after every reconnect (messages sent while the
 * subscriber was away are lost). Changes are applied by store version, so replays change nothing.
 */
export async function shareRoutes(
  table: RouteTable,
  routes: RouteStore,
  onError: (operation: string, error: unknown) => void,
  retryMs = 1_000,
): Promise<() => void> {
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  table.share({ upsert: (r) => routes.upsert(r), delete: (n) => routes.delete(n) });
  // A route this version cannot read (written by a newer one) is reported and skipped; the others apply.
  const readable = (changes: readonly RouteChange[]): SharedRouteChange[] =>
    changes.flatMap((c) => {
      try {
        return [routeChangeOf(c)];
      } catch (e) {
        onError('route change', e);
        return [];
      }
    });
  const reload = async (): Promise<void> => {
    clearTimeout(retry);
    try {
      table.reset(readable((await routes.snapshot()).changes));
    } catch (e) {
      // The store is down (e.g. at start-up): config routes meanwhile, and keep trying until it answers.
      onError('routes snapshot', e);
      if (!stopped) retry = setTimeout(() => void reload(), retryMs).unref();
    }
  };
  // Subscribed before the snapshot is read, so no change falls between the two.
  const unsubscribe = routes.subscribe((change) => {
    if (change.op === 'resync') void reload();
    else for (const c of readable([change])) table.apply(c);
  });
  await reload();
  return () => {
    stopped = true;
    clearTimeout(retry);
    unsubscribe();
  };
}
