/** The command line and upstream pool both floor proxies share (bare-proxy.ts, parsing-proxy.ts), so they differ only in what they do per request. */
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

/**
 * `--upstream URL [--port 0] [--connections 1100]`: the port to serve on and a keep-alive undici Pool to the
 * upstream (no timeouts: the harness stops its children). Exits 2 without `--upstream`.
 */
export function proxyUpstream(): { port: number; pool: Pool } {
  const { values } = parseArgs({
    options: {
      upstream: { type: 'string' },
      port: { type: 'string', default: '0' },
      connections: { type: 'string', default: '1100' },
    },
  });
  if (!values.upstream) {
    process.stderr.write('--upstream is required\n');
    process.exit(2);
  }
  const pool = new Pool(values.upstream, {
    connections: Number(values.connections),
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  return { port: Number(values.port), pool };
}
