import {
  estimateInputTokens,
  missingCapabilities,
  type Capability,
  type ChatRequest,
} from '../core/index.ts';

/** One place a request can go: a provider deployment and one of its models, as the router sees it. */
export interface Target {
  provider: string;
  /** The model id clients and routes use. */
  model: string;
  /** The provider's own name for it. */
  upstreamModel: string;
  capabilities: readonly Capability[];
  contextWindow: number;
  maxOutputTokens?: number | undefined;
  weight: number;
}

export interface Exclusion {
  provider: string;
  model: string;
  reason: string;
}

export interface RoutePlan {
  route: string;
  routeVersion: number;
  /** In the order they will be tried. */
  candidates: Target[];
  excluded: Exclusion[];
  estimatedInputTokens: number;
}

/**
 * Filters a route's targets down to those that can serve the request — fails closed: a target lacking a
 * needed capability, or whose context window cannot hold the estimated prompt plus the requested output,
 * is excluded with its reason, never tried with a feature silently dropped.
 */
export function planRoute(
  route: string,
  routeVersion: number,
  targets: readonly Target[],
  req: ChatRequest,
): RoutePlan {
  const estimatedInputTokens = estimateInputTokens(req);
  const candidates: Target[] = [];
  const excluded: Exclusion[] = [];
  for (const t of targets) {
    const missing = missingCapabilities(req, t.capabilities);
    if (missing.length > 0) {
      excluded.push({ provider: t.provider, model: t.model, reason: `does not support ${missing.join(', ')}` });
      continue;
    }
    const needed = estimatedInputTokens + (req.maxOutputTokens ?? 0);
    if (needed > t.contextWindow) {
      excluded.push({
        provider: t.provider,
        model: t.model,
        reason: `context window ${t.contextWindow} tokens < ~${estimatedInputTokens} input + ${req.maxOutputTokens ?? 0} output`,
      });
      continue;
    }
    if (req.maxOutputTokens !== undefined && t.maxOutputTokens !== undefined && req.maxOutputTokens > t.maxOutputTokens) {
      excluded.push({ provider: t.provider, model: t.model, reason: `max output ${t.maxOutputTokens} tokens < requested ${req.maxOutputTokens}` });
      continue;
    }
    candidates.push(t);
  }
  return { route, routeVersion, candidates, excluded, estimatedInputTokens };
}

/** "no target can serve this request: a/m1 does not support tools; b/m2 context window …". */
export function describeExclusions(plan: RoutePlan): string {
  if (plan.excluded.length === 0) return `route "${plan.route}" has no targets`;
  return `no target of route "${plan.route}" can serve this request: ${plan.excluded
    .map((e) => `${e.provider}/${e.model} ${e.reason}`)
    .join('; ')}`;
}
