import type { RouteTable } from '../router/route-table.ts';
import type { RouteStore } from '../store/store.ts';

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
  const reload = async (): Promise<void> => {
    clearTimeout(retry);
    try {
      table.reset((await routes.snapshot()).changes);
    } catch (e) {
      // The store is down (e.g. at start-up): config routes meanwhile, and keep trying until it answers.
      onError('routes snapshot', e);
      if (!stopped) retry = setTimeout(() => void reload(), retryMs).unref();
    }
  };
  // Subscribed before the snapshot is read, so no change falls between the two.
  const unsubscribe = routes.subscribe((change) => {
    if (change.op === 'resync') void reload();
    else table.apply(change);
  });
  await reload();
  return () => {
    stopped = true;
    clearTimeout(retry);
    unsubscribe();
  };
}
