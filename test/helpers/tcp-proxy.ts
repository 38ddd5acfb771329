/**
 * A TCP proxy on loopback, for outages without touching the real server: `cut()` drops every open
 * connection and refuses new ones (accepted, then closed at once), `restore()` lets them through again.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections accepted so far (each is one upstream connection while the proxy is up). */
  readonly accepted: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A TCP address, or a Unix socket (`path`), to forward to. */
export type ProxyTarget = { host: string; port: number } | { path: string };

export async function startTcpProxy(target: ProxyTarget): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let up = true;
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get accepted() {
      return accepted;
    },
    cut() {
      up = false;
      for (const s of open) s.destroy();
      open.clear();
    },
    restore() {
      up = true;
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of open) s.destroy();
        server.close(() => ok());
      }),
  };
}
