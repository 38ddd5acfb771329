import type { Config } from './config/index.ts';
import { createGateway, type Gateway, type GatewayDeps } from './gateway/gateway-service.ts';
import { createProviderRegistry } from './providers/registry.ts';
import { createAuthenticator } from './server/authenticator.ts';
import { startServer, type RunningServer } from './server/http-server.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';

export interface App {
  gateway: Gateway;
  server: RunningServer;
  logger: Logger;
  close(graceMs?: number): Promise<void>;
}

export interface AppOptions {
  config: Config;
  /** Overrides config.server host/port (tests use port 0). */
  listen?: { host?: string; port?: number };
  logger?: Logger;
  gatewayDeps?: Partial<Omit<GatewayDeps, 'config' | 'registry'>>;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Wires config → provider registry → gateway → HTTP server. The one place the pieces meet. */
export async function createApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger();
  const host = opts.listen?.host ?? config.server.host;
  const port = opts.listen?.port ?? config.server.port;
  const auth = createAuthenticator(config.keys);
  if (auth.localMode) {
    if (!isLoopback(host)) {
      throw new Error(`refusing to listen on ${host} without API keys: add keys to the config or bind a loopback address`);
    }
    logger.warn('no API keys configured: local mode, every caller is admin (loopback only)');
  }
  const registry = createProviderRegistry(config.providers);
  const gateway = createGateway({ config, registry, ...opts.gatewayDeps });
  const server = await startServer({ config, gateway, auth, logger }, { host, port });
  return {
    gateway,
    server,
    logger,
    async close(graceMs) {
      await server.close(graceMs);
      await gateway.close();
    },
  };
}
