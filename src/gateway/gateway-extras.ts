import type { ApiKeyInput, ApiKeyRecord, LedgerSink } from '../core/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';

/** Key management for the admin API: the secret is returned by `create` only. */
export interface ApiKeyAdmin {
  create(input: ApiKeyInput): Promise<{ secret: string; key: ApiKeyRecord }>;
  revoke(id: string): Promise<boolean>;
  list(): Promise<ApiKeyRecord[]>;
}

/**
 * What the app attaches to the gateway object the APIs receive, beside the gateway's own API. A field on
 * the object (not a side table) so it survives wrappers that spread the gateway into a new object.
 */
export interface GatewayExtras {
  apiKeys?: ApiKeyAdmin | undefined;
}

export function apiKeysOf(gateway: object): ApiKeyAdmin | undefined {
  return (gateway as GatewayExtras).apiKeys;
}

/** What the GraphQL analytics read: the ledger's sink, and a flush so this instance's own requests are visible. */
export interface UsageAnalytics {
  sink: LedgerSink;
  flush(): Promise<void>;
}

/** Attached to the gateway object the APIs receive (a field survives wrappers that spread it). */
export interface ObservabilityExtras {
  usage?: UsageAnalytics | undefined;
  metrics?: Metrics | undefined;
}

export function usageOf(gateway: object): UsageAnalytics | undefined {
  return (gateway as ObservabilityExtras).usage;
}
