import { createClient } from '../../src/client/index.ts';

/** The tab's API key lives in sessionStorage: gone when the tab closes, never sent anywhere but this gateway. GraphiQL reads it too. */
const KEY_STORAGE = 'switchboard.apiKey';

export type Client = ReturnType<typeof createClient>;

export function storedKey(): string | undefined {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeKey(key: string | undefined): void {
  try {
    if (key === undefined) sessionStorage.removeItem(KEY_STORAGE);
    else sessionStorage.setItem(KEY_STORAGE, key);
  } catch {
    // Storage off (private mode settings): the key lasts until reload.
  }
}

/** A client of the gateway that served this page, with the key (none in local mode). */
export function clientFor(key: string | undefined): Client {
  return createClient({ url: window.location.origin, ...(key !== undefined && { apiKey: key }) });
}
