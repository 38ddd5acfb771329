import { z } from 'zod';
import type { ApiKeyInput, ApiKeyRecord, ApiKeyUpdate, BudgetEvent, TeamInput, TeamRecord } from '../core/index.ts';

/**
 * The shared state of the gateway, grouped by feature rather than exposed as a key-value store, so
 * that each feature's atomicity lives in one place (a Lua script on Redis, one synchronous block in
 * memory) and both backends can be held to the same contract (test/store/store-contract.ts).
 *
 * Time: rate limits, budgets and latency windows take the caller's clock (`nowMs`, epoch ms) so all
 * instances agree on windows without a round trip for TIME and tests can drive them with a fake clock.
 * TTLs of cached values, locks and idempotency records are relative and kept by the backend.
 *
 * Failures: every method rejects with GatewayError `unavailable` when the backend cannot answer; the
 * wrappers in src/gateway/with-*.ts turn that into each feature's failure policy.
 */
export interface Store {
  readonly kind: 'memory' | 'redis';
  readonly cache: CacheStore;
  readonly inflight: InflightStore;
  readonly idempotency: IdempotencyStore;
  readonly apiKeys: ApiKeyStore;
  readonly limits: RateLimitStore;
  readonly budgets: BudgetStore;
  readonly routerState: RouterStateStore;
  readonly routes: RouteStore;
  readonly teams: TeamStore;
  readonly alerts: AlertBus;
  /** Round trip to the backend; rejects (fast) when it is unreachable. */
  ping(): Promise<void>;
  /** `degraded` while the backend is unreachable: the gateway keeps serving under each feature's policy. */
  readiness(): Promise<StoreReadiness>;
  close(): Promise<void>;
}

export interface StoreReadiness {
  status: 'ready' | 'degraded';
  backend: 'memory' | 'redis';
  /** Why it is degraded; never holds a URL or credentials. */
  detail?: string | undefined;
}

// ── response cache ──────────────────────────────────────────────────────────────────────────────

export interface CacheStore {
  get(key: string): Promise<string | undefined>;
  /** Values above the configured size are compressed; callers always see the plain string. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
}

// ── in-flight coalescing (src/store/coalesce.ts runs the protocol over these primitives) ────────────

export type InflightOutcome =
  | { kind: 'value'; value: string }
  /** No leader holds the key (it finished without a result, or crashed and its lock expired). */
  | { kind: 'vacant' }
  | { kind: 'timeout' };

export interface InflightStore {
  /** Takes the lead for `key` for at most `lockTtlMs`; a token when this caller leads, else null. */
  lead(key: string, lockTtlMs: number): Promise<string | null>;
  /** The leader shares its result (kept `resultTtlMs` for followers that arrive late) and releases the key. */
  resolve(key: string, token: string, value: string, resultTtlMs: number): Promise<void>;
  /** The leader gives up without a result; waiting followers wake up and may take the lead. */
  abandon(key: string, token: string): Promise<void>;
  /** A follower waits for the leader's result, for at most `timeoutMs`. */
  wait(key: string, timeoutMs: number, signal?: AbortSignal): Promise<InflightOutcome>;
}

// ── idempotency records ─────────────────────────────────────────────────────────────────────────

export type IdempotencyState =
  | { state: 'absent' }
  | { state: 'pending'; bodyHash: string }
  | { state: 'done'; bodyHash: string; value: string };

export interface IdempotencyStore {
  /**
   * Atomically claims `key` for a request with this body hash. `started` means the caller runs the
   * request; otherwise the existing record is returned (pending or done) and nothing changes.
   */
  begin(key: string, bodyHash: string, pendingTtlMs: number): Promise<{ state: 'started' } | Exclude<IdempotencyState, { state: 'absent' }>>;
  complete(key: string, bodyHash: string, value: string, ttlMs: number): Promise<void>;
  /** Forgets a pending record (the request failed), so the key can be used again. */
  abandon(key: string): Promise<void>;
  /** Waits while the record is pending; returns its state when it changes or at the timeout. */
  wait(key: string, timeoutMs: number, signal?: AbortSignal): Promise<IdempotencyState>;
}

// ── API keys ────────────────────────────────────────────────────────────────────────────────────

export interface ApiKeyStore {
  /** The secret is returned here once; only its SHA-256 digest is stored. */
  create(input: ApiKeyInput): Promise<{ secret: string; key: ApiKeyRecord }>;
  /** False when no such key exists or it was already revoked. */
  revoke(id: string): Promise<boolean>;
  /** By `hashApiKey(secret)`; undefined for unknown and revoked keys. */
  lookup(secretHash: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  /**
   * Applies an update (absent fields kept, null clears) to an active key atomically (concurrent updates
   * never lose each other's fields); undefined when there is no such key or it was revoked.
   */
  update(id: string, update: ApiKeyUpdate): Promise<ApiKeyRecord | undefined>;
}

// ── teams ───────────────────────────────────────────────────────────────────────────────────────

export interface TeamStore {
  /** Creates or replaces the runtime team of that name. */
  upsert(team: TeamInput): Promise<TeamRecord>;
  /** False when there was no runtime team of that name. */
  delete(name: string): Promise<boolean>;
  list(): Promise<TeamRecord[]>;
}

// ── budget alerts ───────────────────────────────────────────────────────────────────────────────

/** Budget events to every instance (the budgetEvents subscription is served wherever the client connected). */
export interface AlertBus {
  publish(event: BudgetEvent): Promise<void>;
  /** Called for every event published by any instance (this one included). Returns unsubscribe. */
  subscribe(cb: (event: BudgetEvent) => void): () => void;
}

// ── rate limits ─────────────────────────────────────────────────────────────────────────────────

/** One counter: `limit` units (requests or tokens) per `windowMs`, e.g. `key:web:rpm`, 60, 60_000. */
export interface LimitRule {
  key: string;
  limit: number;
  windowMs: number;
  /** Units this request takes (1 for RPM, estimated tokens for TPM). */
  cost: number;
}

export interface LimitState {
  key: string;
  limit: number;
  /** Units left after this request (or now, for peek). */
  remaining: number;
  /** Until the counter is back to its full limit. */
  resetMs: number;
  /** 0 when admitted; otherwise how long until this request would be admitted. */
  retryAfterMs: number;
  allowed: boolean;
}

export interface LimitDecision {
  /** True only when every rule admits it; a denied request consumes nothing from any rule. */
  allowed: boolean;
  rules: LimitState[];
}

export interface RateLimitStore {
  /** Sliding-window counters (previous window weighted by its overlap), checked and taken atomically. */
  consume(rules: readonly LimitRule[], nowMs: number): Promise<LimitDecision>;
  /** Corrects a consumed amount once the real one is known (e.g. tokens used minus tokens estimated). */
  adjust(rules: readonly { key: string; windowMs: number; delta: number }[], nowMs: number): Promise<void>;
  /** The state without taking anything: for routers choosing deployments with headroom. */
  peek(rules: readonly LimitRule[], nowMs: number): Promise<LimitState[]>;
}

// ── budgets ─────────────────────────────────────────────────────────────────────────────────────

/** A USD budget for one subject and period, e.g. `key:web:day:2025-06-01`. */
export interface BudgetLine {
  id: string;
  limitUsd: number;
  /** When the period ends (the line's counters are dropped some time after). */
  periodEndMs: number;
  /** Fraction of the limit (0..1] past which `soft` is reported. */
  softThreshold?: number | undefined;
  /** The same subject's line of the previous period: a RESET alert fires when that one had alerted. */
  previousId?: string | undefined;
}

/**
 * What a reserve or settle crossed for the first time in a line's period, decided atomically by the store
 * (so exactly one caller on one instance sees each): `soft` (spent + reserved reached the soft threshold),
 * `exhausted` (a reservation was refused by the line, or spending reached the limit), `reset` (the first
 * reservation of a period after a period that alerted).
 */
export interface BudgetLineAlert {
  lineId: string;
  kind: 'soft' | 'exhausted' | 'reset';
  spentUsd: number;
  limitUsd: number;
}

export interface BudgetLineState {
  id: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
}

export interface Reservation {
  id: string;
  amountUsd: number;
  lines: readonly BudgetLine[];
}

export type ReserveResult =
  | { ok: true; reservation: Reservation; soft: boolean; lines: BudgetLineState[]; alerts: BudgetLineAlert[] }
  | { ok: false; blockedBy: string; lines: BudgetLineState[]; alerts: BudgetLineAlert[] };

export interface BudgetStore {
  /**
   * Reserves `amountUsd` on every line, or on none: admitted only if spent + reserved + amount fits
   * each limit. A reservation not settled within `ttlMs` (its instance crashed) stops counting.
   */
  reserve(lines: readonly BudgetLine[], amountUsd: number, ttlMs: number, nowMs: number): Promise<ReserveResult>;
  /**
   * Replaces the reservation with the real cost, on the reservation's lines (a line it did not reserve on
   * is simply charged). Returns the alerts this settlement crossed first (`exhausted` at the limit).
   */
  settle(reservation: Reservation, actualUsd: number, nowMs: number): Promise<BudgetLineAlert[]>;
  /** Drops the reservation without spending (the request failed before costing anything). */
  release(reservation: Reservation, nowMs: number): Promise<void>;
  status(lines: readonly BudgetLine[], nowMs: number): Promise<BudgetLineState[]>;
  /** The lines as they stand, changing nothing (no reservation, no clean-up): for queries. */
  read(lines: readonly BudgetLine[], nowMs: number): Promise<BudgetLineState[]>;
}

// ── shared router state ─────────────────────────────────────────────────────────────────────────

export const BreakerRecordSchema = z.object({
  state: z.enum(['closed', 'open', 'half_open']),
  consecutiveFailures: z.number().int().nonnegative(),
  openedAtMs: z.number().nullable(),
  /** When an open breaker lets a probe through. */
  retryAtMs: z.number().nullable(),
  updatedAtMs: z.number(),
});
export type BreakerRecord = z.infer<typeof BreakerRecordSchema>;

export interface LatencySample {
  atMs: number;
  latencyMs: number;
  ok: boolean;
}

/**
 * Plain records by target key (`provider/model`), readable by every instance. Reads may be served from
 * a short local cache (the router reads them on every request; Redis must stay off that path).
 */
export interface RouterStateStore {
  getBreakers(targets: readonly string[]): Promise<Map<string, BreakerRecord>>;
  setBreaker(target: string, record: BreakerRecord): Promise<void>;
  pushLatency(target: string, sample: LatencySample): Promise<void>;
  /** Samples of `target` taken at or after `sinceMs`, oldest first. */
  readLatency(target: string, sinceMs: number): Promise<LatencySample[]>;
}

// ── route changes ───────────────────────────────────────────────────────────────────────────────

/**
 * A route as the store keeps it: a named JSON object. Its meaning (config's route schema) belongs to the
 * route table's owner, which validates a route before it is stored and again when a change arrives.
 */
export const StoredRouteSchema = z.looseObject({ name: z.string().min(1) });
export type StoredRoute = z.infer<typeof StoredRouteSchema>;

export type RouteChange =
  | { op: 'upsert'; version: number; name: string; route: StoredRoute }
  | { op: 'delete'; version: number; name: string };

/** Sent to subscribers after a reconnect: messages may have been missed, so reload the snapshot. */
export interface RouteResync {
  op: 'resync';
}

export interface RouteStore {
  /**
   * Persists the route and publishes the change; returns its version (monotonic across instances) once every
   * instance listening has applied it (bounded), so the next request anywhere runs on the new version.
   */
  upsert(route: StoredRoute): Promise<number>;
  delete(name: string): Promise<number>;
  /** The latest change of every route ever changed at run time, and the highest version. */
  snapshot(): Promise<{ version: number; changes: RouteChange[] }>;
  /** subscribeRoutes: called on every instance for every change (including its own). Returns unsubscribe. */
  subscribe(cb: (change: RouteChange | RouteResync) => void): () => void;
}
