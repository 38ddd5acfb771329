import { createHash } from 'node:crypto';
import type { KeyConfig } from '../config/index.ts';
import { GatewayError } from '../core/index.ts';
import type { Principal } from '../gateway/completion.ts';

export interface Authenticator {
  /** True when no keys are configured: every caller is the local admin (the server then binds loopback only). */
  readonly localMode: boolean;
  /** The caller of an `Authorization` header value; throws `auth` for a missing or unknown key. */
  authenticate(authorization: string | undefined): Principal;
}

const LOCAL: Principal = { name: 'local', scope: 'admin' };

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/**
 * Bearer-key authentication. Only SHA-256 digests of keys are kept and looked up, so neither a heap dump
 * nor a timing probe on the comparison reveals a key (the lookup compares digests, not secrets).
 */
export function createAuthenticator(keys: readonly KeyConfig[]): Authenticator {
  const byDigest = new Map<string, Principal>();
  for (const k of keys) {
    byDigest.set(digest(k.key).toString('hex'), {
      name: k.name,
      scope: k.scope,
      routes: k.routes,
      models: k.models,
      team: k.team,
      user: k.user,
    });
  }
  const localMode = keys.length === 0;
  return {
    localMode,
    authenticate(authorization) {
      if (localMode) return LOCAL;
      const m = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
      if (!m) throw new GatewayError('auth', 'missing API key: send "Authorization: Bearer <key>"');
      const principal = byDigest.get(digest(m[1]!).toString('hex'));
      if (!principal) throw new GatewayError('auth', 'invalid API key');
      return principal;
    },
  };
}

/** Throws `forbidden` unless the caller is an admin (route mutations, key management). */
export function requireAdmin(p: Principal): void {
  if (p.scope !== 'admin') throw new GatewayError('forbidden', `key "${p.name}" is not an admin key`);
}
