import type { Config, ModelConfig, ProviderConfig, RouteConfig } from '../config/index.ts';
import { GatewayError } from '../core/index.ts';
import type { Target } from '../router/route-plan.ts';

export interface CatalogModel {
  provider: ProviderConfig;
  model: ModelConfig;
  target: Target;
}

/**
 * Providers and models from config, indexed for the request path: a route's targets resolve to
 * router Targets without scanning config on every request.
 */
export class Catalog {
  readonly providers: ProviderConfig[];
  private readonly byKey = new Map<string, CatalogModel>();
  private readonly byModelId = new Map<string, CatalogModel[]>();
  private readonly resolved = new WeakMap<RouteConfig, Target[]>();

  constructor(config: Pick<Config, 'providers'>) {
    this.providers = config.providers;
    for (const provider of config.providers) {
      for (const model of provider.models) {
        const entry: CatalogModel = {
          provider,
          model,
          target: {
            provider: provider.id,
            model: model.id,
            upstreamModel: model.upstream ?? model.id,
            capabilities: model.capabilities,
            contextWindow: model.contextWindow,
            maxOutputTokens: model.maxOutputTokens,
            weight: 1,
            price: model.price ? { input: model.price.input, output: model.price.output } : undefined,
            key: `${provider.id}/${model.id}`,
          },
        };
        this.byKey.set(`${provider.id}/${model.id}`, entry);
        const list = this.byModelId.get(model.id) ?? [];
        list.push(entry);
        this.byModelId.set(model.id, list);
      }
    }
  }

  get(provider: string, model: string): CatalogModel | undefined {
    return this.byKey.get(`${provider}/${model}`);
  }

  provider(id: string): ProviderConfig | undefined {
    return this.providers.find((p) => p.id === id);
  }

  /** Every deployment of a model id (`gpt-4o-mini`) or exactly one (`openai-main/gpt-4o-mini`). */
  resolveModel(ref: string): CatalogModel[] {
    const exact = this.byKey.get(ref);
    if (exact) return [exact];
    return this.byModelId.get(ref) ?? [];
  }

  /** All models, in config order. */
  models(): CatalogModel[] {
    return [...this.byKey.values()];
  }

  /** A route's targets, resolved once per route object (routes are replaced, never mutated, on upsert). */
  targetsOf(route: RouteConfig): Target[] {
    let targets = this.resolved.get(route);
    if (!targets) {
      targets = this.resolveTargets(route);
      this.resolved.set(route, targets);
    }
    return targets;
  }

  private resolveTargets(route: RouteConfig): Target[] {
    return route.targets.map((t) => {
      const entry = this.byKey.get(`${t.provider}/${t.model}`);
      if (!entry) {
        throw new GatewayError('internal', `route "${route.name}" names ${t.provider}/${t.model}, which is not configured`);
      }
      return { ...entry.target, weight: t.weight, when: t.when, tier: t.tier };
    });
  }
}
