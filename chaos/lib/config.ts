/**
 * The gateway configs the suite writes: provider entries for the in-process simulator (with faults of their
 * own), routes, and the main gateway's config that most cases share.
 */
import { ADMIN_KEY } from './gateway.ts';
import { EVIL_MODELS } from './evil-upstream.ts';
import type { Fixtures } from './suite.ts';

export const PRICE = { input: 0.15, output: 0.6 };

/** A provider entry for the simulator with faults of its own (sent as `x-sim-faults` on every request). */
export function simProvider(fx: Fixtures, id: string, faults: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    id,
    protocol: 'openai',
    baseUrl: `${fx.sim.url}/v1`,
    ...(Object.keys(faults).length > 0 && { headers: { 'x-sim-faults': JSON.stringify(faults) } }),
    models: [{ id: 'gpt-4o-mini', price: PRICE, capabilities: ['tools', 'json_object', 'json_schema', 'vision'] }],
    ...extra,
  };
}

export const route = (name: string, provider: string, model = 'gpt-4o-mini', extra: Record<string, unknown> = {}) => ({ name, targets: [{ provider, model }], ...extra });

/**
 * The main gateway's config: `default` on the healthy simulator; `big` on a simulator reply of ~350 MB (for
 * readers that stop); one `evil-<model>` route per misbehaviour of the evil upstream (one attempt, short
 * provider timeouts so an endless answer is cut in seconds); one `fault-<name>` route per simulator fault
 * (SIM_FAULTS). Short request timeouts, so slowloris and never-ending bodies are cut in seconds too.
 */
export function mainConfig(fx: Fixtures): Record<string, unknown> {
  const faults = faultRoutes(fx);
  return {
    server: { host: '127.0.0.1', port: 0, headersTimeoutMs: 2_000, bodyTimeoutMs: 3_000, shutdownGraceMs: 3_000 },
    providers: [
      simProvider(fx, 'sim'),
      simProvider(fx, 'big', { replyWords: 40, chunkCount: 40, repeatChunks: 50_000 }),
      {
        id: 'evil',
        protocol: 'openai',
        baseUrl: `${fx.evil.url}/v1`,
        timeouts: { connectMs: 2_000, firstByteMs: 3_000, idleMs: 3_000, totalMs: 5_000 },
        models: EVIL_MODELS.map((id) => ({ id, price: PRICE })),
      },
      ...faults.providers,
    ],
    routes: [
      route('default', 'sim'),
      route('big', 'big'),
      ...EVIL_MODELS.map((m) => route(`evil-${m}`, 'evil', m, { maxAttempts: 1, deadlineMs: 8_000 })),
      ...faults.routes,
    ],
    keys: [{ key: ADMIN_KEY, name: 'chaos-admin', scope: 'admin' }],
  };
}

/** The simulator's faults, each as a provider of its own (routes `fault-<name>`). */
export const SIM_FAULTS: Record<string, Record<string, unknown>> = {
  'omit-end-marker': { omitEndMarker: true },
  'disconnect-mid-stream': { disconnectAfterChunks: 3 },
  'error-mid-stream': { errorAfterChunks: 2 },
  'status-500': { status: 500 },
  'status-429': { status: 429, retryAfterS: 1 },
};

/** What the fault routes add to the main config. */
export function faultRoutes(fx: Fixtures): { providers: unknown[]; routes: unknown[] } {
  return {
    providers: Object.entries(SIM_FAULTS).map(([name, faults]) => simProvider(fx, `sim-${name}`, faults)),
    routes: Object.keys(SIM_FAULTS).map((name) => route(`fault-${name}`, `sim-${name}`, 'gpt-4o-mini', { maxAttempts: 1 })),
  };
}

