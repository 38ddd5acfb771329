import { hash } from 'node:crypto';
import type { KeyConfig } from '../config/index.ts';
import { GatewayError, isExpired, type ApiKeyRecord, type Principal } from '../core/index.ts';
import type { ApiKeyStore } from '../store/store.ts';

export interface Authenticator {
  /** True when no keys are configured: every caller is the local admin (the server then binds loopback only). */
  readonly localMode: boolean;
  /**
   * The caller of an `Authorization` header value from what this instance holds (config keys, and runtime
   * keys it has looked up recently); throws `auth` for a missing or unknown key. Never waits for the store.
   */
  authenticate(authorization: string | undefined): Principal;
  /** The same, asking the store about a runtime key this instance does not hold yet. */
  resolve(authorization: string | undefined): Promise<Principal>;
  /** A key created here: usable on this instance at once. */
  remember(secret: string, key: ApiKeyRecord): void;
  /** A key revoked here: refused on this instance at once (others see it within `keyCacheTtlMs`). */
  forget(id: string): void;
  /** A key updated here (limits, budget, expiry, access): applied on this instance at once, on others within `keyCacheTtlMs`. */
  update(key: ApiKeyRecord): void;
  /**
   * The config file's keys after a reload: the old set is replaced whole. Local mode is decided at start
   * (it decides where the server may listen), so a reload may not turn it on or off: that throws.
   */
  replaceConfigKeys(keys: readonly KeyConfig[]): void;
  close(): void;
}

export interface AuthenticatorOptions {
  /** Runtime keys (createApiKey); config keys only when absent. */
  store?: ApiKeyStore | undefined;
  /** How long a looked-up runtime key (or an unknown one) is trusted before the store is asked again. */
  keyCacheTtlMs?: number | undefined;
  /** Milliseconds (monotonic); tests inject a fake clock. */
  now?: () => number;
  /** Epoch ms, for runtime keys' `expiresAt`; tests inject a fake clock. */
  wallNow?: () => number;
  onError?: ((operation: string, error: unknown) => void) | undefined;
}

const LOCAL: Principal = { name: 'local', scope: 'admin' };
const BEARER = /^Bearer\s+(\S+)\s*$/i;
/** Unknown secrets remembered at most (a client spraying bad keys must not grow memory without bound). */
const MAX_ENTRIES = 10_000;

function digest(secret: string): string {
  // One-shot: no Hash object per request.
  return hash('sha256', secret, 'hex');
}

function principalOf(k: { name: string; scope: 'admin' | 'client'; routes?: string[] | undefined; models?: string[] | undefined; team?: string | undefined; user?: string | undefined }): Principal {
  return { name: k.name, scope: k.scope, routes: k.routes, models: k.models, team: k.team, user: k.user };
}

/** A runtime key's principal: its id, expiry and own quota besides what config keys have. */
function runtimePrincipalOf(k: ApiKeyRecord): Principal {
  const quota = k.limits || k.budget ? { limits: k.limits, budget: k.budget } : undefined;
  return { ...principalOf(k), keyId: k.id, expiresAt: k.expiresAt, quota };
}

interface Entry {
  /** null: the store does not know this secret (or it was revoked). */
  principal: Principal | null;
  id: string | undefined;
  checkedAt: number;
  usedAt: number;
}

/**
 * Bearer-key authentication. Only SHA-256 digests of keys are kept and looked up, so neither a heap dump
 * nor a timing probe on the comparison reveals a key (the lookup compares digests, not secrets).
 *
 * Config keys are checked first, then runtime keys from the store by digest. Runtime keys are held in a
 * local cache so the store is not on every request's path: an entry is trusted for `keyCacheTtlMs`, and a
 * background refresh re-checks every entry in use twice per TTL, so a key revoked on any instance stops
 * working on every instance within that TTL. While the store is unreachable, keys already held keep
 * working and unknown ones are refused.
 */
export function createAuthenticator(keys: readonly KeyConfig[], opts: AuthenticatorOptions = {}): Authenticator {
  const byDigest = new Map<string, Principal>();
  for (const k of keys) byDigest.set(digest(k.key), principalOf(k));
  const localMode = keys.length === 0;
  const store = opts.store;
  const ttlMs = opts.keyCacheTtlMs ?? 5_000;
  const now = opts.now ?? (() => performance.now());
  const wallNow = opts.wallNow ?? Date.now;
  const onError = opts.onError ?? (() => undefined);
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Entry>>();

  function secretOf(authorization: string | undefined): string {
    const m = authorization === undefined ? null : BEARER.exec(authorization);
    if (!m) throw new GatewayError('auth', 'missing API key: send "Authorization: Bearer <key>"');
    return m[1]!;
  }

  function accept(entry: Entry | undefined): Principal {
    if (!entry?.principal) throw new GatewayError('auth', 'invalid API key');
    // Checked on every use, not when cached: a key held here stops at its expiry to the millisecond.
    if (isExpired(entry.principal.expiresAt, wallNow())) throw new GatewayError('auth', 'API key expired');
    entry.usedAt = now();
    return entry.principal;
  }

  function lookup(hash: string): Promise<Entry> {
    const running = inflight.get(hash);
    if (running) return running;
    const p = store!.lookup(hash).then(
      (rec) => {
        const t = now();
        const entry: Entry = { principal: rec ? runtimePrincipalOf(rec) : null, id: rec?.id, checkedAt: t, usedAt: cache.get(hash)?.usedAt ?? t };
        if (cache.size >= MAX_ENTRIES && !cache.has(hash)) cache.clear();
        cache.set(hash, entry);
        return entry;
      },
      (e: unknown) => {
        onError('api key lookup', e);
        const held = cache.get(hash);
        if (held) return held;
        throw new GatewayError('unavailable', 'API keys cannot be checked right now (store unavailable)', { retryAfterMs: 1_000 });
      },
    );
    inflight.set(hash, p);
    void p.finally(() => inflight.delete(hash)).catch(() => undefined);
    return p;
  }

  // Re-checks the entries in use; drops the ones nobody used for a while.
  const timer = store
    ? setInterval(() => {
        const t = now();
        for (const [hash, e] of cache) {
          if (t - e.usedAt > 10 * ttlMs) cache.delete(hash);
          else if (t - e.checkedAt >= ttlMs / 2) void lookup(hash).catch(() => undefined);
        }
      }, Math.max(25, ttlMs / 2))
    : undefined;
  timer?.unref();

  return {
    localMode,
    replaceConfigKeys(next) {
      if ((next.length === 0) !== localMode) {
        throw new Error(localMode ? 'keys: the gateway started without keys (local mode); adding keys needs a restart' : 'keys: removing every key would turn on local mode; that needs a restart');
      }
      byDigest.clear();
      for (const k of next) byDigest.set(digest(k.key), principalOf(k));
    },
    authenticate(authorization) {
      if (localMode) return LOCAL;
      const hash = digest(secretOf(authorization));
      const fromConfig = byDigest.get(hash);
      if (fromConfig) return fromConfig;
      const entry = cache.get(hash);
      if (!entry && store) void lookup(hash).catch(() => undefined);
      return accept(entry);
    },
    async resolve(authorization) {
      if (localMode) return LOCAL;
      const hash = digest(secretOf(authorization));
      const fromConfig = byDigest.get(hash);
      if (fromConfig) return fromConfig;
      if (!store) throw new GatewayError('auth', 'invalid API key');
      const entry = cache.get(hash);
      if (entry && now() - entry.checkedAt < ttlMs) return accept(entry);
      return accept(await lookup(hash));
    },
    remember(secret, key) {
      const t = now();
      cache.set(digest(secret), { principal: key.revokedAt === null ? runtimePrincipalOf(key) : null, id: key.id, checkedAt: t, usedAt: t });
    },
    forget(id) {
      for (const e of cache.values()) {
        if (e.id === id) e.principal = null;
      }
    },
    update(key) {
      for (const e of cache.values()) {
        if (e.id === key.id && e.principal !== null) e.principal = key.revokedAt === null ? runtimePrincipalOf(key) : null;
      }
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
