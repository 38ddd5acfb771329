import { GatewayError, assertNever } from '../core/index.ts';

export interface RedisHostPort {
  host: string;
  port: number;
}

interface Common {
  username?: string | undefined;
  password?: string | undefined;
  tls: boolean;
}

export type RedisTarget =
  | ({ mode: 'standalone'; host: string; port: number; db: number } & Common)
  | ({ mode: 'sentinel'; sentinels: RedisHostPort[]; masterName: string; db: number; sentinelPassword?: string | undefined } & Common)
  | ({ mode: 'cluster'; nodes: RedisHostPort[] } & Common);

const SCHEMES: Record<string, { mode: RedisTarget['mode']; tls: boolean }> = {
  redis: { mode: 'standalone', tls: false },
  rediss: { mode: 'standalone', tls: true },
  'redis-sentinel': { mode: 'sentinel', tls: false },
  'rediss-sentinel': { mode: 'sentinel', tls: true },
  'redis-cluster': { mode: 'cluster', tls: false },
  'rediss-cluster': { mode: 'cluster', tls: true },
};

// The URL is not parsed with WHATWG URL: a comma-separated host list is not a valid authority there.
const URL_RE = /^([a-z-]+):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/([^?#]*))?(?:\?([^#]*))?$/i;

/** Errors name the part at fault but never echo the URL, which may hold a password. */
function bad(message: string): GatewayError {
  return new GatewayError('invalid_request', `store.url: ${message}`, { param: 'store.url' });
}

function parseHost(s: string, defaultPort: number): RedisHostPort {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(s.trim());
  if (!m) throw bad(`cannot read host "${s.includes('@') ? '…' : s}"`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw bad(`port out of range in "${s}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function parseDb(s: string | undefined): number {
  if (s === undefined || s === '') return 0;
  if (!/^\d+$/.test(s)) throw bad('the database must be a number (redis://host:6379/0)');
  return Number(s);
}

/**
 * Reads the Redis URL forms the gateway accepts:
 * - `redis://[user:pass@]host[:port][/db]`, `rediss://…` (TLS);
 * - `redis-sentinel://[user:pass@]host:port,host:port/masterName[/db][?sentinelPassword=…]` (and `rediss-sentinel`);
 * - `redis-cluster://[user:pass@]host:port,host:port` (and `rediss-cluster`).
 */
export function parseRedisUrl(url: string): RedisTarget {
  const m = URL_RE.exec(url.trim());
  if (!m) throw bad('expected redis://, rediss://, redis-sentinel:// or redis-cluster://');
  const scheme = SCHEMES[m[1]!.toLowerCase()];
  if (!scheme) throw bad(`unknown scheme "${m[1]}" (redis, rediss, redis-sentinel, redis-cluster)`);
  let username: string | undefined;
  let password: string | undefined;
  if (m[2] !== undefined && m[2] !== '') {
    const colon = m[2].indexOf(':');
    const user = colon < 0 ? m[2] : m[2].slice(0, colon);
    username = user === '' ? undefined : decodeURIComponent(user);
    password = colon < 0 ? undefined : decodeURIComponent(m[2].slice(colon + 1));
  }
  const query = new URLSearchParams(m[5] ?? '');
  const common: Common = { username, password, tls: scheme.tls };
  const hosts = m[3]!.split(',').filter((h) => h.trim() !== '');
  if (hosts.length === 0) throw bad('no host');
  const path = (m[4] ?? '').split('/').filter((p) => p !== '');

  switch (scheme.mode) {
    case 'standalone': {
      if (hosts.length > 1) throw bad('several hosts need redis-sentinel:// or redis-cluster://');
      if (path.length > 1) throw bad('the path is only the database number');
      return { mode: 'standalone', ...parseHost(hosts[0]!, 6379), db: parseDb(path[0]), ...common };
    }
    case 'sentinel': {
      const masterName = path[0] === undefined ? undefined : decodeURIComponent(path[0]);
      if (!masterName) throw bad('name the master: redis-sentinel://host:26379,host:26379/mymaster');
      const sentinelPassword = query.get('sentinelPassword') ?? undefined;
      return { mode: 'sentinel', sentinels: hosts.map((h) => parseHost(h, 26379)), masterName, db: parseDb(path[1]), sentinelPassword, ...common };
    }
    case 'cluster': {
      if (path.length > 0) throw bad('a cluster has no database number');
      return { mode: 'cluster', nodes: hosts.map((h) => parseHost(h, 6379)), ...common };
    }
    default:
      return assertNever(scheme.mode);
  }
}
