import type { CompletionEvent, StreamPart, TargetRef } from '../core/index.ts';
import type { Target } from '../router/route-plan.ts';
import type { BudgetLineState, LimitState } from '../store/store.ts';
import type { Tracing } from '../telemetry/tracing.ts';
import type { CacheRun } from './cache-stage.ts';
import type { GatewayRequest, StoreRequest } from './gateway-request.ts';
import type { IdempotencyRun } from './idempotency-stage.ts';
import type { Admission } from './limits-stage.ts';
import type { ResolvedRequest } from './route-resolver.ts';

/** HIT and COALESCED made no upstream call. */
export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS' | 'REFRESH' | 'COALESCED';

/** What the stages found out about one request: response headers (REST) and the usage ledger read it. */
export interface RequestFindings {
  readonly cacheStatus: CacheStatus | undefined;
  /** The completion is a stored one (Idempotency-Key replay): it is not billed or recorded again. */
  readonly idempotentReplay: boolean;
  readonly rateLimits: readonly LimitState[] | undefined;
  readonly budget: { soft: boolean; lines: BudgetLineState[] } | undefined;
  /** Features that ran without the store (it was unreachable) under their failure policy. */
  readonly degraded: readonly string[] | undefined;
}

/**
 * Per-attempt hook (tracing): each provider call of a request runs through it, so work the call does
 * (its HTTP client span) happens inside the attempt's own context.
 */
export type OnAttempt = (target: Target, attempt: number) => AttemptScope;
export interface AttemptScope {
  call<T>(fn: () => Promise<T>): Promise<T>;
  stream(open: () => AsyncIterable<StreamPart>): AsyncIterable<StreamPart>;
}
/** The plan once made (route, version, candidates in order), for the request's span. */
export type OnPlan = (plan: { route: string; version: number; candidates: string[] }) => void;

/** What the gateway's upstream call reads of a request. */
export interface GatewayCall {
  readonly request: GatewayRequest;
  readonly resolved: ResolvedRequest;
  /** Put on the completion the gateway makes (null with tracing off). */
  readonly traceId: string | null;
  readonly onAttempt: OnAttempt | undefined;
  readonly onPlan: OnPlan | undefined;
}

type StartEvent = Extract<CompletionEvent, { type: 'start' }>;
type RouteTrace = ReturnType<Tracing['begin']>;

/**
 * One request on its way through the pipeline (pipeline.ts), made by the pipeline and handed to every
 * stage hook. What stages learn about the request is kept here, not written into the caller's objects:
 * the API layer reads the findings from the context the pipeline gave it (`prepare`). Every field is
 * declared up front so contexts share one shape.
 */
export class RequestContext implements RequestFindings, GatewayCall {
  readonly request: StoreRequest;
  /**
   * Set by the resolve stage. Stages after it and the gateway read it; stages before it (observability)
   * see every request, including those refused by resolution, and must not rely on it.
   */
  resolved!: ResolvedRequest;
  /** Whether the request runs as a stream; set when it starts. */
  streamed = false;
  /** Monotonic ms (the pipeline's clock) when the request started. */
  startedAt = 0;

  cacheStatus: CacheStatus | undefined = undefined;
  idempotentReplay = false;
  rateLimits: LimitState[] | undefined = undefined;
  budget: { soft: boolean; lines: BudgetLineState[] } | undefined = undefined;
  degraded: string[] | undefined = undefined;

  /** Set by the tracing stage when tracing is on. */
  traceId: string | null = null;
  onAttempt: OnAttempt | undefined = undefined;
  onPlan: OnPlan | undefined = undefined;

  /** Kept by the pipeline as a stream's events pass: its start event, the target after switches, the TTFT. */
  startEvent: StartEvent | undefined = undefined;
  target: TargetRef | undefined = undefined;
  firstOutputMs: number | null = null;

  /** The pipeline's own: how many stages the request entered (-1: not started), and the upstream stream. */
  entered = -1;
  source: AsyncIterator<CompletionEvent> | undefined = undefined;

  /** Each built-in stage's own state for this request, read only by that stage. */
  trace: RouteTrace | undefined = undefined;
  idempotency: IdempotencyRun | undefined = undefined;
  admission: Admission | undefined = undefined;
  cacheRun: CacheRun | undefined = undefined;

  constructor(request: StoreRequest) {
    this.request = request;
  }

  markDegraded(feature: string): void {
    (this.degraded ??= []).push(feature);
  }
}
