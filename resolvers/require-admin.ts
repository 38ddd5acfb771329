import { GatewayError, type Principal } from '../src/core/index.ts';

/** Throws `forbidden` unless the caller is an admin (route mutations, key management). */
export function requireAdmin(p: Principal): void {
  if (p.scope !== 'admin') throw new GatewayError('forbidden', `key "${p.name}" is not an admin key`);
}
