/** The HTTP server of the harness's own children (upstream mock, bare proxy): one setup, so both are configured alike. */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Serves `handler` on 127.0.0.1:`port` (keep-alive, no delay, no timeouts), prints `{"port":N}` on stdout when
 * listening (what the harness waits for), and exits on SIGTERM / SIGINT after `cleanup` (at most 1 s).
 */
export function serveOnLoopback(port: number, handler: RequestListener, cleanup: () => Promise<unknown> = async () => {}): void {
  const server = createServer({ keepAlive: true, keepAliveTimeout: 120_000, noDelay: true, requestTimeout: 0, headersTimeout: 0 }, handler);
  server.maxRequestsPerSocket = 0;
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    void cleanup().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
