import type { RouteStrategy, TargetWhen } from '../config/index.ts';
import {
  estimateInputTokens,
  hasCapability,
  missingCapabilities,
  requestedCapabilities,
  type Capability,
  type ChatRequest,
  type ErrorKind,
} from '../core/index.ts';
import type { BreakerState } from './circuit-breaker.ts';
import type { LatencyWindow } from './latency-window.ts';
import { expectedCostUsd, orderCandidates, type Quality } from './strategies.ts';

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
  /** USD per 1M tokens; undefined when the model is unpriced (which is not free). */
  price?: { input: number; output: number } | undefined;
  when?: TargetWhen | undefined;
  tier?: 'fast' | 'balanced' | 'best' | undefined;
  /** `provider/model`: the key of its circuit breaker and latency window (computed when absent). */
  key?: string | undefined;
}

export const targetKey = (t: Target): string => t.key ?? `${t.provider}/${t.model}`;

export interface Exclusion {
  provider: string;
  model: string;
  reason: string;
}

/** Why a target was excluded, for choosing the error kind when nothing is left. */
export type ExclusionCode = 'request' | 'when' | 'capability' | 'context_window' | 'max_output' | 'circuit' | 'latency_budget' | 'cost_ceiling';

/** Per-request constraints (CompletionInput / the REST `switchboard` object). */
export interface RequestConstraints {
  quality?: Quality | undefined;
  latencyBudgetMs?: number | undefined;
  costCeilingUsd?: number | undefined;
  /** Provider ids or `provider/model` deployments the request may use (all when absent). */
  allow?: readonly string[] | undefined;
  /** Provider ids or `provider/model` deployments the request must not use. */
  deny?: readonly string[] | undefined;
}

/** Everything beyond the route's targets that a decision depends on; all optional (priority order without it). */
export interface PlanOptions {
  strategy?: RouteStrategy | undefined;
  task?: string | undefined;
  constraints?: RequestConstraints | undefined;
  /** Output tokens expected when the request sets no max tokens (cheapest, cascade, cost ceiling). */
  expectedOutputTokens?: number | undefined;
  /** A tokenizer count that replaces the chars/4 estimate (the gateway supplies it near a window's limit). */
  inputTokens?: number | undefined;
  breakers?: BreakerState | undefined;
  latency?: LatencyWindow | undefined;
  now?: number | undefined;
  random?: (() => number) | undefined;
  /** Capabilities needed beyond what the chat implies: an embeddings request needs `embeddings`. */
  requires?: readonly Capability[] | undefined;
}

export interface RoutePlan {
  route: string;
  routeVersion: number;
  /** In the order they will be tried. */
  candidates: Target[];
  excluded: Exclusion[];
  estimatedInputTokens: number;
  /** Parallel to `excluded` (optional so hand-built plans in tests stay short). */
  exclusionCodes?: ExclusionCode[] | undefined;
  /** Output tokens the cost figures assume. */
  expectedOutputTokens?: number | undefined;
  /** The strategy that ordered the candidates (quality FAST/BEST override the route's); priority when absent. */
  strategy?: RouteStrategy | undefined;
  /** Cascade: every answer is validated and a rejected one escalates to the next candidate. */
  cascade?: boolean | undefined;
}

const matches = (list: readonly string[], t: Target): boolean => list.includes(t.provider) || list.includes(targetKey(t));

function whenFails(when: TargetWhen, req: ChatRequest, task: string | undefined, tokens: number): string | undefined {
  if (when.task && (task === undefined || !when.task.includes(task))) {
    return `when: task ${task === undefined ? '(none)' : `"${task}"`} is not one of ${when.task.join(', ')}`;
  }
  if (when.minInputTokens !== undefined && tokens < when.minInputTokens) return `when: ~${tokens} input tokens < ${when.minInputTokens}`;
  if (when.maxInputTokens !== undefined && tokens > when.maxInputTokens) return `when: ~${tokens} input tokens > ${when.maxInputTokens}`;
  if (when.capabilities) {
    const needs = requestedCapabilities(req);
    const absent = when.capabilities.filter((c) => !needs.includes(c));
    if (absent.length > 0) return `when: the request does not need ${absent.join(', ')}`;
  }
  if (when.metadata) {
    for (const [k, v] of Object.entries(when.metadata)) {
      const have = req.metadata?.[k];
      if (have === undefined || (typeof v === 'string' ? have !== v : !v.includes(have))) {
        return `when: metadata ${k}=${typeof v === 'string' ? v : v.join('|')} not matched`;
      }
    }
  }
  return undefined;
}

const usd = (n: number) => `$${n.toPrecision(3)}`;

/**
 * Filters a route's targets down to those that can serve the request and orders them by the strategy.
 * Fails closed: a target lacking a needed capability, or whose context window cannot hold the estimated
 * prompt plus the requested output, is excluded with its reason, never tried with a feature silently
 * dropped. The same function serves requests and `explainRoute`, so an explanation is what a request does
 * (up to the strategy's randomness: weighted and least-latency draw with the injected random).
 */
export function planRoute(
  route: string,
  routeVersion: number,
  targets: readonly Target[],
  req: ChatRequest,
  opts: PlanOptions = {},
): RoutePlan {
  const estimatedInputTokens = opts.inputTokens ?? estimateInputTokens(req);
  const strategy = opts.strategy ?? 'priority';
  const c = opts.constraints;
  const expectedOutputTokens = req.maxOutputTokens ?? opts.expectedOutputTokens ?? 256;
  const now = opts.now ?? 0;
  const candidates: Target[] = [];
  const excluded: Exclusion[] = [];
  const exclusionCodes: ExclusionCode[] = [];
  const exclude = (t: Target, code: ExclusionCode, reason: string) => {
    excluded.push({ provider: t.provider, model: t.model, reason });
    exclusionCodes.push(code);
  };
  for (const t of targets) {
    if (c?.deny && matches(c.deny, t)) {
      exclude(t, 'request', 'denied by the request');
      continue;
    }
    if (c?.allow && !matches(c.allow, t)) {
      exclude(t, 'request', "not in the request's allow list");
      continue;
    }
    if (t.when) {
      const why = whenFails(t.when, req, opts.task, estimatedInputTokens);
      if (why) {
        exclude(t, 'when', why);
        continue;
      }
    }
    const missing = missingCapabilities(req, t.capabilities);
    if (opts.requires) for (const c of opts.requires) if (!hasCapability(t.capabilities, c)) missing.push(c);
    if (missing.length > 0) {
      exclude(t, 'capability', `does not support ${missing.join(', ')}`);
      continue;
    }
    const needed = estimatedInputTokens + (req.maxOutputTokens ?? 0);
    if (needed > t.contextWindow) {
      exclude(t, 'context_window', `context window ${t.contextWindow} tokens < ~${estimatedInputTokens} input + ${req.maxOutputTokens ?? 0} output`);
      continue;
    }
    if (req.maxOutputTokens !== undefined && t.maxOutputTokens !== undefined && req.maxOutputTokens > t.maxOutputTokens) {
      exclude(t, 'max_output', `max output ${t.maxOutputTokens} tokens < requested ${req.maxOutputTokens}`);
      continue;
    }
    if (opts.breakers) {
      const b = opts.breakers.peek(targetKey(t), now);
      if (b.state === 'open') {
        exclude(t, 'circuit', `circuit open for another ${Math.ceil(((b.openUntil ?? now) - now) / 1000)} s (${b.reason ?? 'failures'})`);
        continue;
      }
    }
    if (c?.latencyBudgetMs !== undefined && opts.latency) {
      const p95 = opts.latency.p95(targetKey(t), now);
      if (p95 !== undefined && p95 > c.latencyBudgetMs) {
        exclude(t, 'latency_budget', `p95 latency ~${Math.round(p95)} ms > budget ${c.latencyBudgetMs} ms`);
        continue;
      }
    }
    if (c?.costCeilingUsd !== undefined) {
      const cost = expectedCostUsd(t, estimatedInputTokens, expectedOutputTokens);
      if (cost === undefined) {
        exclude(t, 'cost_ceiling', 'unpriced: cannot be held to a cost ceiling');
        continue;
      }
      if (cost > c.costCeilingUsd) {
        exclude(t, 'cost_ceiling', `expected cost ~${usd(cost)} > ceiling ${usd(c.costCeilingUsd)}`);
        continue;
      }
    }
    candidates.push(t);
  }
  const quality = c?.quality ?? 'balanced';
  const ordered = orderCandidates(candidates, strategy, quality, {
    estimatedInputTokens,
    expectedOutputTokens,
    latency: opts.latency,
    now,
    random: opts.random ?? Math.random,
  });
  return {
    route,
    routeVersion,
    candidates: ordered.candidates,
    excluded,
    exclusionCodes,
    estimatedInputTokens,
    expectedOutputTokens,
    strategy: ordered.strategy,
    cascade: ordered.strategy === 'cascade',
  };
}

/** "no target can serve this request: a/m1 does not support tools; b/m2 context window …". */
export function describeExclusions(plan: Pick<RoutePlan, 'route' | 'excluded'>): string {
  if (plan.excluded.length === 0) return `route "${plan.route}" has no targets`;
  return `no target of route "${plan.route}" can serve this request: ${plan.excluded
    .map((e) => `${e.provider}/${e.model} ${e.reason}`)
    .join('; ')}`;
}

/** Which error a request gets when no target is left, from the furthest stage any target got through. */
export function noCandidateKind(codes: readonly ExclusionCode[]): ErrorKind {
  if (codes.includes('circuit')) return 'unavailable';
  if (codes.includes('latency_budget') || codes.includes('cost_ceiling')) return 'invalid_request';
  if (codes.includes('context_window') || codes.includes('max_output')) return 'context_length_exceeded';
  if (codes.includes('capability')) return 'unsupported_feature';
  return 'invalid_request';
}
