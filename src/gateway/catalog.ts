import type { Config, ModelConfig, ProviderConfig, RouteConfig } from '../config/index.ts';
import { CapabilitySchema, GatewayError, type Capability } from '../core/index.ts';
import type { Target } from '../router/route-plan.ts';
import { builtinModelInfo } from '../usage/pricing.ts';

/** A provider's model entry that accepts any model name (`models: [{ id: "*" }]`). */
export const WILDCARD_MODEL = '*';

/** Model names a wildcard forwards: what vendors use (letters, digits, `._:/@-`), never whitespace or quotes. */
const FORWARDABLE_NAME = /^[\w.:/@+-]{1,256}$/;

/** Wildcard deployments built so far are kept, up to this many (names come from clients: the map must be bounded). */
const MAX_WILDCARD_ENTRIES = 2_000;

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
  /** Providers that take any model name, with their `*` entry (its capabilities and limits apply to unknown names). */
  private readonly wildcards = new Map<string, { provider: ProviderConfig; star: ModelConfig }>();
  private readonly forwarded = new Map<string, CatalogModel>();

  constructor(config: Pick<Config, 'providers'>) {
    this.providers = config.providers;
    for (const provider of config.providers) {
      for (const model of provider.models) {
        if (model.id === WILDCARD_MODEL) {
          this.wildcards.set(provider.id, { provider, star: model });
          continue;
        }
        const entry = catalogEntry(provider, model);
        this.byKey.set(`${provider.id}/${model.id}`, entry);
        const list = this.byModelId.get(model.id) ?? [];
        list.push(entry);
        this.byModelId.set(model.id, list);
      }
    }
  }

  /** A configured deployment, or a model name a wildcard provider forwards as is. */
  get(provider: string, model: string): CatalogModel | undefined {
    return this.byKey.get(`${provider}/${model}`) ?? this.forward(provider, model);
  }

  /** Whether the provider accepts any model name. */
  isWildcard(provider: string): boolean {
    return this.wildcards.has(provider);
  }

  /**
   * A model name on a wildcard provider: the built-in catalog's context window, output limit, capabilities and
   * price when it knows the name; else the `*` entry's limits and capabilities (none unless configured, so tools,
   * images and schemas fail closed) and no price (unpriced, never free).
   */
  private forward(providerId: string, name: string): CatalogModel | undefined {
    const wildcard = this.wildcards.get(providerId);
    if (!wildcard || !FORWARDABLE_NAME.test(name)) return undefined;
    const key = `${providerId}/${name}`;
    const cached = this.forwarded.get(key);
    if (cached) return cached;
    const known = builtinModelInfo(name);
    const capabilities = known?.capabilities?.filter((c): c is Capability => CapabilitySchema.safeParse(c).success);
    const model: ModelConfig = {
      id: name,
      upstream: name,
      contextWindow: known?.contextWindow ?? wildcard.star.contextWindow,
      maxOutputTokens: known?.maxOutputTokens ?? wildcard.star.maxOutputTokens,
      capabilities: capabilities ?? wildcard.star.capabilities,
    };
    const entry = catalogEntry(wildcard.provider, model);
    if (this.forwarded.size >= MAX_WILDCARD_ENTRIES) this.forwarded.delete(this.forwarded.keys().next().value!);
    this.forwarded.set(key, entry);
    return entry;
  }

  provider(id: string): ProviderConfig | undefined {
    return this.providers.find((p) => p.id === id);
  }

  /** Every deployment of a model id (`gpt-4o-mini`) or exactly one (`openai-main/gpt-4o-mini`). */
  resolveModel(ref: string): CatalogModel[] {
    const exact = this.byKey.get(ref);
    if (exact) return [exact];
    const listed = this.byModelId.get(ref);
    if (listed) return listed;
    // `provider/any-model` on a wildcard provider (the model name may itself contain slashes).
    const slash = ref.indexOf('/');
    const forwarded = slash > 0 ? this.forward(ref.slice(0, slash), ref.slice(slash + 1)) : undefined;
    return forwarded ? [forwarded] : [];
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
      const entry = this.get(t.provider, t.model);
      if (!entry) {
        throw new GatewayError('internal', `route "${route.name}" names ${t.provider}/${t.model}, which is not configured`);
      }
      return { ...entry.target, weight: t.weight, when: t.when, tier: t.tier };
    });
  }
}

function catalogEntry(provider: ProviderConfig, model: ModelConfig): CatalogModel {
  // Routing (cheapest, cost ceilings) and budget reservations read this price: a model config leaves unpriced
  // takes the built-in table's, as billing does, so what is planned is what is charged.
  const price = model.price ?? builtinModelInfo(model.upstream ?? model.id)?.price ?? builtinModelInfo(model.id)?.price;
  return {
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
      price: price ? { input: price.input, output: price.output } : undefined,
      key: `${provider.id}/${model.id}`,
    },
  };
}
