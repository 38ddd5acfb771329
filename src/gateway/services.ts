import type { RouteConfig } from '../config/index.ts';
import type { ApiKeyInput, ApiKeyRecord, ApiKeyUpdate, Completion, CompletionEvent, LedgerSink } from '../core/index.ts';
import type { Governance } from '../governance/governance.ts';
import type { RoutePlan, Target } from '../router/route-plan.ts';
import type { RouteTable } from '../router/route-table.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { CompletionLog } from '../usage/completion-log.ts';
import type { UsageArchive } from '../usage/query-usage.ts';
import type { Catalog } from './catalog.ts';
import type { Embeddings } from './embeddings.ts';
import type { GatewayRequest, StoreRequest } from './gateway-request.ts';
import type { ProviderHealth } from './provider-health.ts';
import type { RequestContext } from './request-context.ts';

/**
 * What the APIs ask of the gateway: answer, stream, embed, explain. Every call goes through the app's
 * one request pipeline (observability, resolution, store stages, then the router's attempt loop).
 */
export interface Gateway {
  /** The context a request will run in: the API layer reads what the stages found out (cache status, rate limits) from it. */
  prepare(request: StoreRequest): RequestContext;
  complete(request: StoreRequest | RequestContext): Promise<Completion>;
  stream(request: StoreRequest | RequestContext): AsyncGenerator<CompletionEvent>;
  /** An embeddings request (embeddings.ts `embeddingsRequest`) through the same pipeline. */
  embed(request: StoreRequest | RequestContext): Promise<Embeddings>;
  /**
   * Where a request would go, by the request path's own planning, without calling a provider; with `draft`,
   * on that route definition as if it were saved (a dry run of an edit; the caller checks who may).
   */
  explain(request: GatewayRequest, draft?: RouteConfig): Promise<RoutePlan>;
}

/** Live figures of routes and providers for explanations and health (breakers, rolling latency, prices). */
export interface RouteInsights {
  targetFigures(target: Target, plan: RoutePlan): { expectedCostUsd: number | null; p95LatencyMs: number | null; circuit: string };
  health(providerId: string): ProviderHealth;
}

/** Key management for the admin API: the secret is returned by `create` only. */
export interface ApiKeyAdmin {
  create(input: ApiKeyInput): Promise<{ secret: string; key: ApiKeyRecord }>;
  revoke(id: string): Promise<boolean>;
  list(): Promise<ApiKeyRecord[]>;
  /** Absent fields kept, null clears; undefined when there is no such active key. */
  update(id: string, update: ApiKeyUpdate): Promise<ApiKeyRecord | undefined>;
}

/** What the GraphQL analytics read: the ledger's sink, and a flush so this instance's own requests are visible. */
export interface UsageAnalytics {
  sink: LedgerSink;
  /** The durable ledger's reads (config `ledger`), for usage older than the store's rollups keep. */
  archive?: UsageArchive | undefined;
  flush(): Promise<void>;
}

/** The outcome of a config reload (GraphQL `reloadConfig`, SIGHUP, a file watch). */
export interface ConfigReload {
  ok: boolean;
  /** The running config's version: bumped by every reload that was applied. */
  version: number;
  /** Routes whose definition changed (each got a new version). */
  changedRoutes: string[];
  /** Changed settings the running process keeps until a restart (listening address, store, cache, …). */
  restartRequired: string[];
  /** Why nothing was applied: every problem, by key path. */
  errors: string[];
}

/** The running config's version and the way to reload it (absent when the gateway runs without a config file). */
export interface ConfigControl {
  version(): { version: number; loadedAt: Date; source: string };
  reload(trigger: string): Promise<ConfigReload>;
}

/**
 * Everything the REST handlers and the GraphQL context are given, by the composition root (app.ts): the
 * gateway and, beside it, the services the admin and analytics APIs read. Absent ones (`apiKeys` without
 * a store, `usage` and `metrics` without observability) make the APIs that need them answer UNAVAILABLE.
 */
export interface Services {
  gateway: Gateway;
  catalog: Catalog;
  routes: RouteTable;
  /** Recent completions kept in this instance (GraphQL's `completion(id)`). */
  completions: CompletionLog<Completion>;
  insights: RouteInsights;
  apiKeys?: ApiKeyAdmin | undefined;
  /** Teams, budget lines and budget events (absent without a store). */
  governance?: Governance | undefined;
  usage?: UsageAnalytics | undefined;
  metrics?: Metrics | undefined;
  configControl?: ConfigControl | undefined;
}
