import type { Config } from '../src/config/index.ts';
import type { Principal } from '../src/core/index.ts';
import type { Services } from '../src/gateway/services.ts';
import { createLoaders, type Loaders } from './loaders.ts';

/**
 * What every resolver receives: the services from the composition root (the gateway, catalog, routes,
 * completion log, route insights, API keys, usage analytics), the caller, per-request DataLoaders and the
 * request's abort signal.
 */
export interface GraphQLContext extends Services {
  config: Config;
  principal: Principal;
  /** True when the gateway has no keys: every caller is the local admin (the `viewer` query reports it). */
  localMode: boolean;
  loaders: Loaders;
  /** Fires when the HTTP client goes away; passed down to the gateway so the upstream call stops too. */
  signal?: AbortSignal | undefined;
  /** Aborts at the end of the server's shutdown grace period: open subscriptions end with a SHUTTING_DOWN event. */
  shutdown?: AbortSignal | undefined;
  requestId?: string | undefined;
}

export interface ContextInput {
  services: Services;
  config: Config;
  principal: Principal;
  /** The authenticator's local mode (false when absent). */
  localMode?: boolean | undefined;
  signal?: AbortSignal | undefined;
  shutdown?: AbortSignal | undefined;
  requestId?: string | undefined;
}

/** One context per operation (HTTP request or subscription): loaders must not outlive it. */
export function createContext({ services, localMode, ...rest }: ContextInput): GraphQLContext {
  return { ...services, ...rest, localMode: localMode ?? false, loaders: createLoaders(services) };
}
