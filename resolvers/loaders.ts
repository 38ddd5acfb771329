import DataLoader from 'dataloader';
import type { ProviderConfig } from '../src/config/index.ts';
import type { CatalogModel } from '../src/gateway/catalog.ts';
import type { Gateway } from '../src/gateway/gateway-service.ts';

export interface ProviderHealth {
  status: 'HEALTHY' | 'DEGRADED' | 'DOWN';
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  errorRate: number;
  sampleSize: number;
}

/** Per-request batching and caching for fields that fan out (a provider's models, a target's provider/model). */
export interface Loaders {
  provider: DataLoader<string, ProviderConfig | null>;
  /** By deployment id (`provider/model`) or bare model id (its first deployment). */
  model: DataLoader<string, CatalogModel | null>;
  modelsOfProvider: DataLoader<string, CatalogModel[]>;
  health: DataLoader<string, ProviderHealth>;
}

/** The deployment id of a model, unique across providers: the Model entity's key. */
export const modelKey = (provider: string, model: string): string => `${provider}/${model}`;

/** How many recent attempts per provider the health figures look at. */
const HEALTH_WINDOW = 200;

export function createLoaders(gateway: Gateway): Loaders {
  const { catalog } = gateway;
  return {
    provider: new DataLoader<string, ProviderConfig | null>(async (ids) => ids.map((id) => catalog.provider(id) ?? null)),
    model: new DataLoader<string, CatalogModel | null>(async (ids) => ids.map((id) => catalog.resolveModel(id)[0] ?? null)),
    modelsOfProvider: new DataLoader<string, CatalogModel[]>(async (ids) => {
      const byProvider = new Map<string, CatalogModel[]>();
      for (const entry of catalog.models()) {
        const list = byProvider.get(entry.provider.id) ?? [];
        list.push(entry);
        byProvider.set(entry.provider.id, list);
      }
      return ids.map((id) => byProvider.get(id) ?? []);
    }),
    health: new DataLoader<string, ProviderHealth>(async (ids) => computeHealth(gateway, ids)),
  };
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * Health from the completion log's recent attempts (one pass for every provider asked). Interim: the
 * router's breaker and latency windows will replace it. Requests that failed on every target are not
 * in the log, so a provider that fails alone is only seen through the attempts of later successes.
 */
function computeHealth(gateway: Gateway, ids: readonly string[]): ProviderHealth[] {
  const wanted = new Set(ids);
  const samples = new Map<string, { errors: number; total: number; latencies: number[] }>();
  for (const id of wanted) samples.set(id, { errors: 0, total: 0, latencies: [] });
  let open = wanted.size;
  // Newest first; stop once every provider asked has a full window.
  const { items } = gateway.completions.list(Number.MAX_SAFE_INTEGER);
  outer: for (const completion of items) {
    for (let i = completion.attempts.length - 1; i >= 0; i--) {
      const a = completion.attempts[i]!;
      const s = samples.get(a.provider);
      if (!s || s.total >= HEALTH_WINDOW) continue;
      s.total++;
      if (a.status === 'error') s.errors++;
      else s.latencies.push(a.latencyMs);
      if (s.total === HEALTH_WINDOW && --open === 0) break outer;
    }
  }
  return ids.map((id) => {
    const s = samples.get(id)!;
    const errorRate = s.total === 0 ? 0 : s.errors / s.total;
    const sorted = s.latencies.sort((a, b) => a - b);
    return {
      status: errorRate >= 0.5 ? 'DOWN' : errorRate >= 0.1 ? 'DEGRADED' : 'HEALTHY',
      p50LatencyMs: percentile(sorted, 0.5),
      p95LatencyMs: percentile(sorted, 0.95),
      errorRate,
      sampleSize: s.total,
    };
  });
}
