import DataLoader from 'dataloader';
import type { ProviderConfig } from '../src/config/index.ts';
import type { CatalogModel } from '../src/gateway/catalog.ts';
import type { Services } from '../src/gateway/services.ts';
import type { ProviderHealth } from '../src/gateway/provider-health.ts';

export type { ProviderHealth } from '../src/gateway/provider-health.ts';

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

export function createLoaders(services: Pick<Services, 'catalog' | 'insights'>): Loaders {
  const { catalog, insights } = services;
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
    health: new DataLoader<string, ProviderHealth>(async (ids) => ids.map((id) => insights.health(id))),
  };
}
