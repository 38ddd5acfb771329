/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
export type ApiKeyInput = {
  /** The key's own USD budget (likewise). */
  budget?: BudgetInput | null | undefined;
  /** When the key stops working (must be in the future). */
  expiresAt?: string | null | undefined;
  /** The key's own RPM/TPM (replaces config `quotas.keys` by name for this key). */
  limits?: RateLimitsInput | null | undefined;
  models?: Array<string> | null | undefined;
  name: string;
  routes?: Array<string> | null | undefined;
  /** CLIENT when omitted. */
  scope?: ApiKeyScope | null | undefined;
  /** The team it belongs to: the team's limits and budget apply to it too. */
  team?: string | null | undefined;
  user?: string | null | undefined;
};

export type ApiKeyScope =
  | 'ADMIN'
  | 'CLIENT';

export type AttemptStatus =
  | 'ERROR'
  | 'OK';

export type BudgetInput = {
  /** DAY when omitted. */
  period?: BudgetPeriod | null | undefined;
  /** Past the soft threshold, requests on a route run on this route instead. */
  softRoute?: string | null | undefined;
  /** 0 < x ≤ 1; 0.8 when omitted. */
  softThreshold?: number | null | undefined;
  usd: number;
};

/** A budget's calendar period (UTC; weeks start on Monday). */
export type BudgetPeriod =
  | 'DAY'
  | 'MONTH'
  | 'WEEK';

/** A prompt-cache breakpoint (Anthropic cache_control). */
export type CacheControlInput = {
  /** How long the cached prefix lives after its last use; FIVE_MINUTES when omitted. */
  ttl?: CacheTtl | null | undefined;
  type?: CacheControlType;
};

export type CacheControlType =
  | 'EPHEMERAL';

/** Per-request cache control; sending it opts a non-deterministic request in. */
export type CacheInput = {
  mode?: CacheMode | null | undefined;
  /** How long the answer is kept (capped by config cache.maxTtlSeconds); the route's TTL when omitted. */
  ttlSeconds?: number | null | undefined;
};

/**
 * DEFAULT: answer from the cache when an identical request was answered (and store the answer).
 * BYPASS: neither read nor write. REFRESH: call upstream and store the fresh answer.
 * ONLY: answer from the cache or fail with NOT_FOUND (param `cache`).
 */
export type CacheMode =
  | 'BYPASS'
  | 'DEFAULT'
  | 'ONLY'
  | 'REFRESH';

export type CacheTtl =
  | 'FIVE_MINUTES'
  | 'ONE_HOUR';

export type CircuitState =
  | 'CLOSED'
  | 'HALF_OPEN'
  | 'OPEN';

export type CompletionFilter = {
  /** Model id (`gpt-4o-mini`) or deployment id (`openai-main/gpt-4o-mini`). */
  model?: string | null | undefined;
  /** Provider id. */
  provider?: string | null | undefined;
  route?: string | null | undefined;
};

export type CompletionInput = {
  /** Only these providers (ids, or `provider/model` deployments). */
  allowProviders?: Array<string> | null | undefined;
  /** Response cache control. Without it only deterministic requests (temperature 0) use the cache. */
  cache?: CacheInput | null | undefined;
  /** Excludes targets whose expected cost is above it (and unpriced ones). */
  costCeilingUsd?: number | null | undefined;
  /** Never these providers (ids, or `provider/model` deployments). */
  denyProviders?: Array<string> | null | undefined;
  /** A replay with the same key and input returns the stored completion, unbilled; another input with it is rejected. */
  idempotencyKey?: string | null | undefined;
  /** Caps the request's deadline and excludes targets whose rolling p95 is above it. */
  latencyBudgetMs?: number | null | undefined;
  maxTokens?: number | null | undefined;
  messages: Array<MessageInput>;
  /** String labels (an object of strings). */
  metadata?: unknown;
  /** Pins a model id (`gpt-4o-mini`) or deployment (`openai-main/gpt-4o-mini`), bypassing routing. */
  model?: string | null | undefined;
  /** OpenAI prompt_cache_key: requests sharing it reach the same prompt cache (sent to OpenAI targets; a hint elsewhere). */
  promptCacheKey?: string | null | undefined;
  /** Vendor-only parameters keyed by protocol: { openai: {...}, anthropic: {...} }. */
  providerOptions?: unknown;
  /** FAST: least latency, no cascade. BALANCED (default): the route's strategy. BEST: best-tier (or priciest) targets first, no cascade. */
  quality?: Quality | null | undefined;
  /** Ask a reasoning model to think (the reasoning comes back on AssistantMessage.reasoning and ReasoningDeltaEvent). */
  reasoningEffort?: ReasoningEffort | null | undefined;
  responseFormat?: ResponseFormatInput | null | undefined;
  /** Route name; the configured default route (`default`) when omitted. Ignored when `model` pins a model. */
  route?: string | null | undefined;
  seed?: number | null | undefined;
  stop?: Array<string> | null | undefined;
  /** What the request is for: route targets' `when.task` match it (not sent upstream). */
  task?: string | null | undefined;
  temperature?: number | null | undefined;
  toolChoice?: ToolChoiceInput | null | undefined;
  tools?: Array<ToolInput> | null | undefined;
  topP?: number | null | undefined;
};

/**
 * One part of a message's content: exactly one of text or image. With cacheControl, the prompt up to and including
 * this part is a cache breakpoint (Anthropic: at most 4 per request; other protocols cache prefixes on their own).
 */
export type ContentPartInput = {
  cacheControl?: CacheControlInput | null | undefined;
  /** USER messages only. */
  image?: ImageInput | null | undefined;
  text?: string | null | undefined;
};

export type FinishReason =
  | 'CONTENT_FILTER'
  | 'ERROR'
  | 'LENGTH'
  /** The provider ended without naming a reason (an OpenAI-compatible finish_reason of null). */
  | 'OTHER'
  | 'STOP'
  | 'TOOL_CALLS';

export type HealthStatus =
  | 'DEGRADED'
  | 'DOWN'
  | 'HEALTHY';

export type ImageDetail =
  | 'AUTO'
  | 'HIGH'
  | 'LOW';

/** An image by URL (http(s) or data:) or as inline base64 data with its media type. */
export type ImageInput = {
  data?: string | null | undefined;
  detail?: ImageDetail | null | undefined;
  mediaType?: string | null | undefined;
  url?: string | null | undefined;
};

export type MessageInput = {
  /** The message's text. For several parts or prompt-cache breakpoints, use parts instead. */
  content?: string | null | undefined;
  /** USER messages only. */
  images?: Array<ImageInput> | null | undefined;
  /** TOOL messages: the called function's name. */
  name?: string | null | undefined;
  /**
   * The content as parts in order (text, and images on USER messages), each optionally ending a prompt-cache
   * prefix (cacheControl). Instead of content and images, not with them.
   */
  parts?: Array<ContentPartInput> | null | undefined;
  /** ASSISTANT messages: the turn's reasoning as AssistantMessage.reasoningParts returned it (signatures included). */
  reasoningParts?: Array<ReasoningPartInput> | null | undefined;
  role: MessageRole;
  /** TOOL messages: the id of the call this message answers. */
  toolCallId?: string | null | undefined;
  /** ASSISTANT messages: the calls the model made. */
  toolCalls?: Array<ToolCallInput> | null | undefined;
};

export type MessageRole =
  | 'ASSISTANT'
  | 'SYSTEM'
  | 'TOOL'
  | 'USER';

export type OnContentFilter =
  /** Try the next target; a stream only while nothing of it reached the client. */
  | 'FALLBACK'
  /** Answer with the block (CONTENT_FILTER error, or the filtered answer). */
  | 'STOP';

/** Where a completion's price came from: the config, the built-in table of well-known models, or nowhere (unpriced). */
export type PriceSource =
  | 'BUILTIN'
  | 'CONFIG'
  | 'NONE';

export type PromptCacheInput = {
  system?: boolean | null | undefined;
  tools?: boolean | null | undefined;
};

export type Quality =
  | 'BALANCED'
  | 'BEST'
  | 'FAST';

export type RateLimitsInput = {
  rpm?: number | null | undefined;
  tpm?: number | null | undefined;
};

/** How hard a reasoning model thinks: OpenAI reasoning_effort, an Anthropic or Gemini thinking budget (README: Reasoning). */
export type ReasoningEffort =
  | 'HIGH'
  | 'LOW'
  | 'MEDIUM'
  | 'MINIMAL';

/** A reasoning block sent back: the fields of ReasoningPart, unchanged. */
export type ReasoningPartInput = {
  provider?: string | null | undefined;
  redacted?: boolean | null | undefined;
  signature?: string | null | undefined;
  text: string;
  toolCallId?: string | null | undefined;
};

export type ResponseFormatInput = {
  /** JSON_SCHEMA only. */
  name?: string | null | undefined;
  /** JSON_SCHEMA only: the JSON Schema the reply must follow. */
  schema?: unknown;
  strict?: boolean | null | undefined;
  type: ResponseFormatType;
};

export type ResponseFormatType =
  | 'JSON_OBJECT'
  | 'JSON_SCHEMA'
  | 'TEXT';

/** Mirrors a route of the configuration file; validated by the same schema. */
export type RouteInput = {
  deadlineMs?: number | null | undefined;
  expectedOutputTokens?: number | null | undefined;
  maxAttempts?: number | null | undefined;
  name: string;
  /** STOP when omitted. */
  onContentFilter?: OnContentFilter | null | undefined;
  promptCache?: PromptCacheInput | null | undefined;
  resumeStreams?: boolean | null | undefined;
  /** PRIORITY when omitted. */
  strategy?: RouteStrategy | null | undefined;
  streamTimeouts?: StreamTimeoutsInput | null | undefined;
  targets: Array<RouteTargetInput>;
  /** REFUSE when omitted. */
  unsupportedParams?: UnsupportedParams | null | undefined;
  validator?: ValidatorInput | null | undefined;
};

/**
 * PRIORITY: ordered fallback chain. WEIGHTED: random by weight. LEAST_LATENCY: power of two choices on the rolling
 * p95 (5 minutes). CHEAPEST: lowest expected cost first (unpriced last). CASCADE: cheapest first; an answer that fails
 * the validator escalates to the next target (every step is an attempt and its cost is counted).
 */
export type RouteStrategy =
  | 'CASCADE'
  | 'CHEAPEST'
  | 'LEAST_LATENCY'
  | 'PRIORITY'
  | 'WEIGHTED';

export type RouteTargetInput = {
  /** Model id within that provider. */
  model: string;
  /** Provider id. */
  provider: string;
  tier?: TargetTier | null | undefined;
  weight?: number | null | undefined;
  when?: TargetWhenInput | null | undefined;
};

export type StreamTimeoutsInput = {
  firstTokenMs?: number | null | undefined;
  idleMs?: number | null | undefined;
};

/** What quality: FAST / BEST requests prefer; untiered targets count as BALANCED. */
export type TargetTier =
  | 'BALANCED'
  | 'BEST'
  | 'FAST';

export type TargetWhenInput = {
  /** Lower-case capability names (tools, json_schema, vision, …). */
  capabilities?: Array<string> | null | undefined;
  maxInputTokens?: number | null | undefined;
  /** An object of key → string or list of strings. */
  metadata?: unknown;
  minInputTokens?: number | null | undefined;
  task?: Array<string> | null | undefined;
};

export type ToolCallInput = {
  arguments: string;
  id: string;
  name: string;
};

export type ToolChoiceInput = {
  mode: ToolChoiceMode;
  /** Required when mode is TOOL. */
  name?: string | null | undefined;
};

export type ToolChoiceMode =
  | 'AUTO'
  | 'NONE'
  | 'REQUIRED'
  | 'TOOL';

export type ToolInput = {
  /** A prompt-cache breakpoint after this tool (tools come first in the cached prefix); usually on the last tool. */
  cacheControl?: CacheControlInput | null | undefined;
  description?: string | null | undefined;
  name: string;
  /** JSON Schema of the arguments object. */
  parameters?: unknown;
  strict?: boolean | null | undefined;
};

export type UnsupportedParams =
  /** The request goes without it; REST lists it in x-switchboard-dropped-params. */
  | 'DROP'
  /** The attempt fails with UNSUPPORTED_FEATURE naming the parameter (the route tries its next target). */
  | 'REFUSE';

export type UsageFilter = {
  /** The API key's name (the ledger never holds keys). */
  apiKey?: string | null | undefined;
  from: string;
  /** Model id (not the deployment id). */
  model?: string | null | undefined;
  operation?: UsageOperation | null | undefined;
  /** Provider id. */
  provider?: string | null | undefined;
  route?: string | null | undefined;
  team?: string | null | undefined;
  /** Exclusive. */
  to: string;
};

export type UsageGroupBy =
  | 'API_KEY'
  | 'MODEL'
  | 'OPERATION'
  | 'PROVIDER'
  | 'ROUTE'
  | 'TEAM';

export type UsageInterval =
  | 'DAY'
  | 'HOUR'
  | 'MINUTE';

/** What a request asked for: a chat completion (createCompletion, /v1/chat/completions) or embeddings. */
export type UsageOperation =
  | 'CHAT'
  | 'EMBEDDINGS';

export type ValidatorInput = {
  jsonSchema?: unknown;
  maxLength?: number | null | undefined;
  nonEmpty?: boolean | null | undefined;
  refusal?: boolean | null | undefined;
  regex?: string | null | undefined;
};

export type AttemptFieldsFragment = { status: AttemptStatus, errorCode: string | null, latencyMs: number, retryDelayMs: number | null, costUsd: number | null, validationError: string | null, resumed: boolean, provider: { id: string }, model: { id: string, name: string } };

export type UsageCountsFieldsFragment = { inputTokens: number, outputTokens: number, cachedInputTokens: number, cacheWriteTokens: number, reasoningTokens: number, totalTokens: number, estimated: boolean };

export type CompletionSummaryFieldsFragment = { id: string, route: string, routeVersion: number, upstreamModel: string, finishReason: FinishReason, costUsd: number | null, priced: boolean, latencyMs: number, timeToFirstTokenMs: number | null, cached: boolean, createdAt: string, traceId: string | null, provider: { id: string }, model: { id: string, name: string }, usage: { inputTokens: number, outputTokens: number, cachedInputTokens: number, cacheWriteTokens: number, reasoningTokens: number, totalTokens: number, estimated: boolean } };

export type CompletionFieldsFragment = { priceSource: PriceSource, priceVersion: string | null, id: string, route: string, routeVersion: number, upstreamModel: string, finishReason: FinishReason, costUsd: number | null, priced: boolean, latencyMs: number, timeToFirstTokenMs: number | null, cached: boolean, createdAt: string, traceId: string | null, message: { role: MessageRole, content: string | null, toolCalls: Array<{ id: string, name: string, arguments: string }> }, attempts: Array<{ status: AttemptStatus, errorCode: string | null, latencyMs: number, retryDelayMs: number | null, costUsd: number | null, validationError: string | null, resumed: boolean, provider: { id: string }, model: { id: string, name: string } }>, provider: { id: string }, model: { id: string, name: string }, usage: { inputTokens: number, outputTokens: number, cachedInputTokens: number, cacheWriteTokens: number, reasoningTokens: number, totalTokens: number, estimated: boolean } };

export type CompleteMutationVariables = Exact<{
  input: CompletionInput;
}>;


export type CompleteMutation = { createCompletion: { priceSource: PriceSource, priceVersion: string | null, id: string, route: string, routeVersion: number, upstreamModel: string, finishReason: FinishReason, costUsd: number | null, priced: boolean, latencyMs: number, timeToFirstTokenMs: number | null, cached: boolean, createdAt: string, traceId: string | null, message: { role: MessageRole, content: string | null, toolCalls: Array<{ id: string, name: string, arguments: string }> }, attempts: Array<{ status: AttemptStatus, errorCode: string | null, latencyMs: number, retryDelayMs: number | null, costUsd: number | null, validationError: string | null, resumed: boolean, provider: { id: string }, model: { id: string, name: string } }>, provider: { id: string }, model: { id: string, name: string }, usage: { inputTokens: number, outputTokens: number, cachedInputTokens: number, cacheWriteTokens: number, reasoningTokens: number, totalTokens: number, estimated: boolean } } };

export type CompletionStreamSubscriptionVariables = Exact<{
  input: CompletionInput;
}>;


export type CompletionStreamSubscription = { completionStream:
    | { __typename: 'CompletionDoneEvent', completion: { priceSource: PriceSource, priceVersion: string | null, id: string, route: string, routeVersion: number, upstreamModel: string, finishReason: FinishReason, costUsd: number | null, priced: boolean, latencyMs: number, timeToFirstTokenMs: number | null, cached: boolean, createdAt: string, traceId: string | null, message: { role: MessageRole, content: string | null, toolCalls: Array<{ id: string, name: string, arguments: string }> }, attempts: Array<{ status: AttemptStatus, errorCode: string | null, latencyMs: number, retryDelayMs: number | null, costUsd: number | null, validationError: string | null, resumed: boolean, provider: { id: string }, model: { id: string, name: string } }>, provider: { id: string }, model: { id: string, name: string }, usage: { inputTokens: number, outputTokens: number, cachedInputTokens: number, cacheWriteTokens: number, reasoningTokens: number, totalTokens: number, estimated: boolean } } }
    | { __typename: 'CompletionErrorEvent', completionId: string, code: string, message: string, partialText: string, retryable: boolean, attempts: Array<{ status: AttemptStatus, errorCode: string | null, latencyMs: number, retryDelayMs: number | null, costUsd: number | null, validationError: string | null, resumed: boolean, provider: { id: string }, model: { id: string, name: string } }> }
    | { __typename: 'CompletionStartEvent', completionId: string, route: string, routeVersion: number, provider: { id: string }, model: { id: string, name: string } }
    | { __typename: 'ReasoningDeltaEvent', text: string, index: number, signature: string | null, redacted: boolean }
    | { __typename: 'SwitchEvent', reason: string, errorCode: string, resumed: boolean, from: { model: { id: string } }, to: { model: { id: string } } }
    | { __typename: 'TextDeltaEvent', text: string }
    | { __typename: 'ToolCallDeltaEvent', index: number, id: string | null, name: string | null, argumentsDelta: string }
   };

export type ViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerQuery = { viewer: { name: string, scope: ApiKeyScope, localMode: boolean, team: string | null } };

export type UsageStatsFieldsFragment = { requests: number, errors: number, errorRate: number, inputTokens: number, outputTokens: number, cachedInputTokens: number, cacheWriteTokens: number, reasoningTokens: number, totalTokens: number, costUsd: number, unpricedRequests: number, estimatedRequests: number, cacheHits: number, cacheHitRate: number, latencyMeanMs: number | null, latencyP50Ms: number | null, latencyP95Ms: number | null, latencyP99Ms: number | null, errorsByKind: Array<{ code: string, count: number }> };

export type UsageQueryVariables = Exact<{
  filter: UsageFilter;
  groupBy?: Array<UsageGroupBy> | UsageGroupBy | null | undefined;
  interval?: UsageInterval | null | undefined;
}>;


export type UsageQuery = { usage: { from: string, to: string, interval: UsageInterval, groupBy: Array<UsageGroupBy>, totals: { requests: number, errors: number, errorRate: number, inputTokens: number, outputTokens: number, cachedInputTokens: number, cacheWriteTokens: number, reasoningTokens: number, totalTokens: number, costUsd: number, unpricedRequests: number, estimatedRequests: number, cacheHits: number, cacheHitRate: number, latencyMeanMs: number | null, latencyP50Ms: number | null, latencyP95Ms: number | null, latencyP99Ms: number | null, errorsByKind: Array<{ code: string, count: number }> }, series: Array<{ group: { provider: string | null, model: string | null, route: string | null, apiKey: string | null, team: string | null, operation: UsageOperation | null }, totals: { requests: number, errors: number, costUsd: number, totalTokens: number, unpricedRequests: number, cacheHits: number, latencyP95Ms: number | null }, points: Array<{ start: string, stats: { requests: number, errors: number, inputTokens: number, outputTokens: number, totalTokens: number, costUsd: number, cacheHits: number, latencyP50Ms: number | null, latencyP95Ms: number | null } }> }> } };

export type CompletionsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  filter?: CompletionFilter | null | undefined;
}>;


export type CompletionsQuery = { completions: { edges: Array<{ cursor: string, node: { id: string, route: string, routeVersion: number, upstreamModel: string, finishReason: FinishReason, costUsd: number | null, priced: boolean, latencyMs: number, timeToFirstTokenMs: number | null, cached: boolean, createdAt: string, traceId: string | null, provider: { id: string }, model: { id: string, name: string }, usage: { inputTokens: number, outputTokens: number, cachedInputTokens: number, cacheWriteTokens: number, reasoningTokens: number, totalTokens: number, estimated: boolean } } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type CompletionQueryVariables = Exact<{
  id: string | number;
}>;


export type CompletionQuery = { completion: { priceSource: PriceSource, priceVersion: string | null, id: string, route: string, routeVersion: number, upstreamModel: string, finishReason: FinishReason, costUsd: number | null, priced: boolean, latencyMs: number, timeToFirstTokenMs: number | null, cached: boolean, createdAt: string, traceId: string | null, message: { role: MessageRole, content: string | null, toolCalls: Array<{ id: string, name: string, arguments: string }> }, attempts: Array<{ status: AttemptStatus, errorCode: string | null, latencyMs: number, retryDelayMs: number | null, costUsd: number | null, validationError: string | null, resumed: boolean, provider: { id: string }, model: { id: string, name: string } }>, provider: { id: string }, model: { id: string, name: string }, usage: { inputTokens: number, outputTokens: number, cachedInputTokens: number, cacheWriteTokens: number, reasoningTokens: number, totalTokens: number, estimated: boolean } } | null };

export type ProvidersQueryVariables = Exact<{ [key: string]: never; }>;


export type ProvidersQuery = { providers: Array<{ id: string, protocol: string, baseUrl: string | null, models: Array<{ id: string, name: string, upstreamName: string, contextWindow: number, maxOutputTokens: number | null, capabilities: Array<string>, price: { input: number, output: number, cachedInput: number, cacheWrite: number, reasoning: number } | null }>, health: { status: HealthStatus, p50LatencyMs: number | null, p95LatencyMs: number | null, errorRate: number, sampleSize: number, circuits: Array<{ model: string, state: CircuitState, reason: string | null, retryInMs: number | null }> } }> };

export type RouteFieldsFragment = { name: string, strategy: RouteStrategy, version: number, maxAttempts: number, deadlineMs: number, resumeStreams: boolean, expectedOutputTokens: number, unsupportedParams: UnsupportedParams, targets: Array<{ weight: number, tier: TargetTier | null, provider: { id: string, health: { status: HealthStatus } }, model: { id: string, name: string }, when: { task: Array<string> | null, minInputTokens: number | null, maxInputTokens: number | null, capabilities: Array<string> | null, metadata: unknown } | null }>, streamTimeouts: { firstTokenMs: number | null, idleMs: number | null } | null, validator: { jsonSchema: unknown, nonEmpty: boolean, regex: string | null, maxLength: number | null, refusal: boolean } | null, promptCache: { system: boolean | null, tools: boolean | null } | null };

export type RoutesQueryVariables = Exact<{ [key: string]: never; }>;


export type RoutesQuery = { routes: Array<{ name: string, strategy: RouteStrategy, version: number, maxAttempts: number, deadlineMs: number, resumeStreams: boolean, expectedOutputTokens: number, unsupportedParams: UnsupportedParams, targets: Array<{ weight: number, tier: TargetTier | null, provider: { id: string, health: { status: HealthStatus } }, model: { id: string, name: string }, when: { task: Array<string> | null, minInputTokens: number | null, maxInputTokens: number | null, capabilities: Array<string> | null, metadata: unknown } | null }>, streamTimeouts: { firstTokenMs: number | null, idleMs: number | null } | null, validator: { jsonSchema: unknown, nonEmpty: boolean, regex: string | null, maxLength: number | null, refusal: boolean } | null, promptCache: { system: boolean | null, tools: boolean | null } | null }> };

export type UpsertRouteMutationVariables = Exact<{
  input: RouteInput;
}>;


export type UpsertRouteMutation = { upsertRoute: { name: string, strategy: RouteStrategy, version: number, maxAttempts: number, deadlineMs: number, resumeStreams: boolean, expectedOutputTokens: number, unsupportedParams: UnsupportedParams, targets: Array<{ weight: number, tier: TargetTier | null, provider: { id: string, health: { status: HealthStatus } }, model: { id: string, name: string }, when: { task: Array<string> | null, minInputTokens: number | null, maxInputTokens: number | null, capabilities: Array<string> | null, metadata: unknown } | null }>, streamTimeouts: { firstTokenMs: number | null, idleMs: number | null } | null, validator: { jsonSchema: unknown, nonEmpty: boolean, regex: string | null, maxLength: number | null, refusal: boolean } | null, promptCache: { system: boolean | null, tools: boolean | null } | null } };

export type DeleteRouteMutationVariables = Exact<{
  name: string;
}>;


export type DeleteRouteMutation = { deleteRoute: boolean };

export type ExplainRouteQueryVariables = Exact<{
  input: CompletionInput;
  draft?: RouteInput | null | undefined;
}>;


export type ExplainRouteQuery = { explainRoute: { route: string, routeVersion: number, strategy: RouteStrategy, estimatedInputTokens: number, chosen: { weight: number, tier: TargetTier | null, provider: { id: string }, model: { id: string, name: string } } | null, candidates: Array<{ weight: number, tier: TargetTier | null, provider: { id: string }, model: { id: string, name: string } }>, candidateDetails: Array<{ expectedCostUsd: number | null, p95LatencyMs: number | null, circuit: CircuitState, provider: { id: string }, model: { id: string, name: string } }>, excluded: Array<{ reason: string, provider: { id: string }, model: { id: string, name: string } }> } | null };

export type ApiKeyFieldsFragment = { id: string, name: string, scope: ApiKeyScope, routes: Array<string> | null, models: Array<string> | null, team: string | null, user: string | null, prefix: string, createdAt: string, revokedAt: string | null };

export type ApiKeysQueryVariables = Exact<{ [key: string]: never; }>;


export type ApiKeysQuery = { apiKeys: Array<{ id: string, name: string, scope: ApiKeyScope, routes: Array<string> | null, models: Array<string> | null, team: string | null, user: string | null, prefix: string, createdAt: string, revokedAt: string | null }> };

export type CreateApiKeyMutationVariables = Exact<{
  input: ApiKeyInput;
}>;


export type CreateApiKeyMutation = { createApiKey: { secret: string, key: { id: string, name: string, scope: ApiKeyScope, routes: Array<string> | null, models: Array<string> | null, team: string | null, user: string | null, prefix: string, createdAt: string, revokedAt: string | null } } };

export type RevokeApiKeyMutationVariables = Exact<{
  id: string | number;
}>;


export type RevokeApiKeyMutation = { revokeApiKey: boolean };
