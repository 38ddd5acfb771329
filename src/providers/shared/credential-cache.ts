/**
 * A short-lived credential (an OAuth access token, a set of temporary AWS keys) kept between calls and
 * renewed before it expires, so no request is sent with one about to lapse and none waits for a renewal
 * it did not need. One load at a time: calls that arrive during a load share it.
 */

export interface Expiring<T> {
  value: T;
  /** Epoch milliseconds; undefined for a credential that does not expire (static keys). */
  expiresAt?: number | undefined;
}

export interface CredentialCacheOptions<T> {
  /** Fetches a fresh credential; rejects when none can be had. */
  load: () => Promise<Expiring<T>>;
  now?: () => number;
  /**
   * Renew once the credential has less than this left (default 5 minutes, as the AWS and Google SDKs do).
   * A credential issued for less than twice the margin is renewed at half its lifetime instead.
   */
  refreshMarginMs?: number;
}

export interface CredentialCache<T> {
  /** A credential valid for at least the margin, loading one when needed. */
  get(): Promise<T>;
  /** Forgets the cached credential (the provider said it was revoked): the next `get` loads anew. */
  invalidate(): void;
}

export function createCredentialCache<T>(opts: CredentialCacheOptions<T>): CredentialCache<T> {
  const now = opts.now ?? Date.now;
  const margin = opts.refreshMarginMs ?? 5 * 60_000;
  let current: { value: T; renewAt: number; expiresAt: number } | undefined;
  let loading: Promise<T> | undefined;

  function load(): Promise<T> {
    loading ??= (async () => {
      try {
        const issuedAt = now();
        const fresh = await opts.load();
        const expiresAt = fresh.expiresAt ?? Number.POSITIVE_INFINITY;
        const lifetime = expiresAt - issuedAt;
        const renewAt = lifetime >= 2 * margin ? expiresAt - margin : issuedAt + lifetime / 2;
        current = { value: fresh.value, renewAt, expiresAt };
        return fresh.value;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  }

  return {
    async get() {
      const t = now();
      if (current !== undefined && t < current.renewAt) return current.value;
      if (current !== undefined && t < current.expiresAt) {
        // Still valid: renew in the background and keep serving; a failed renewal is retried by the next call.
        const held = current.value;
        load().catch(() => undefined);
        return held;
      }
      return load();
    },
    invalidate() {
      current = undefined;
    },
  };
}
