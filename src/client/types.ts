/**
 * The client's public types: the results of its operations (from generated.ts, so they follow the schema
 * and operations.ts) under short names, and its inputs, which accept what the GraphQL inputs accept plus
 * lower-case message roles and Date bounds.
 */
import type * as G from './generated.ts';

export type {
  ApiKeyInput,
  ApiKeyScope,
  AttemptStatus,
  CacheInput,
  CacheMode,
  CircuitState,
  CompletionFilter,
  FinishReason,
  HealthStatus,
  ImageInput,
  MessageRole,
  PriceSource,
  Quality,
  ResponseFormatInput,
  RouteInput,
  RouteStrategy,
  TargetTier,
  ToolCallInput,
  ToolChoiceInput,
  ToolInput,
  UsageFilter,
  UsageGroupBy,
  UsageInterval,
  UsageOperation,
} from './generated.ts';

/** A completed request, as complete() and the stream's done event return it. */
export type Completion = G.CompletionFieldsFragment;
/** A completion without its message and attempts, as completions() lists them. */
export type CompletionSummary = G.CompletionSummaryFieldsFragment;
export type Attempt = G.AttemptFieldsFragment;
export type CompletionPage = G.CompletionsQuery['completions'];
export type Viewer = G.ViewerQuery['viewer'];
export type UsageReport = G.UsageQuery['usage'];
export type UsageStats = G.UsageStatsFieldsFragment;
export type Provider = G.ProvidersQuery['providers'][number];
export type Model = Provider['models'][number];
export type Route = G.RouteFieldsFragment;
export type RouteExplanation = NonNullable<G.ExplainRouteQuery['explainRoute']>;
export type ApiKey = G.ApiKeyFieldsFragment;
export type CreatedApiKey = G.CreateApiKeyMutation['createApiKey'];

/** `'user'` or `'USER'`: the schema's enum, or its lower-case form as the OpenAI and Anthropic SDKs write it. */
export type Role = G.MessageRole | Lowercase<G.MessageRole>;
export type MessageInput = Omit<G.MessageInput, 'role'> & { role: Role };
/** createCompletion's input, with lower-case roles allowed. */
export type CompletionInput = Omit<G.CompletionInput, 'messages'> & { messages: MessageInput[] };

export interface UsageArgs {
  /** `from` and `to` as RFC 3339 strings or Dates; the range is [from, to). */
  filter: Omit<G.UsageFilter, 'from' | 'to'> & { from: string | Date; to: string | Date };
  groupBy?: G.UsageGroupBy[];
  interval?: G.UsageInterval;
}

export interface CompletionsArgs {
  /** 20 when omitted. */
  first?: number;
  /** pageInfo.endCursor of the previous page. */
  after?: string | null;
  filter?: G.CompletionFilter;
}

type StreamPayload = G.CompletionStreamSubscription['completionStream'];
type Payload<T extends StreamPayload['__typename']> = Extract<StreamPayload, { __typename: T }>;

/**
 * What stream() yields: one `start`, then `text` and `tool-call` deltas (and `switch` when a target failed
 * and the next one took over), then exactly one terminal event, `done` (the whole completion: cost, usage,
 * attempts) or `error` (a typed code, the text sent before the failure).
 */
export type CompletionStreamEvent =
  | ({ type: 'start'; /** Provider id. */ provider: string; /** Model id (`gpt-4o-mini`). */ model: string } & Pick<Payload<'CompletionStartEvent'>, 'completionId' | 'route' | 'routeVersion'>)
  | ({ type: 'text' } & Omit<Payload<'TextDeltaEvent'>, '__typename'>)
  /** The model's reasoning, before the text it leads to (reasoning models, with reasoningEffort). */
  | ({ type: 'reasoning' } & Omit<Payload<'ReasoningDeltaEvent'>, '__typename'>)
  | ({ type: 'tool-call' } & Omit<Payload<'ToolCallDeltaEvent'>, '__typename'>)
  | ({ type: 'switch'; /** The deployment that failed (`provider/model`). */ from: string; /** The deployment that takes over. */ to: string } & Pick<Payload<'SwitchEvent'>, 'reason' | 'errorCode' | 'resumed'>)
  | { type: 'done'; completion: Completion }
  | ({ type: 'error' } & Omit<Payload<'CompletionErrorEvent'>, '__typename'>);

export type CompletionStreamEventType = CompletionStreamEvent['type'];

export interface ClientOptions {
  /** The gateway's base URL (`http://127.0.0.1:4000`); GraphQL is at `${url}/graphql`. */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>`; omit in local mode. */
  apiKey?: string;
  /** Replaces the global fetch (tests, proxies, a fetch with other defaults). */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** A WebSocket constructor for streams (e.g. the `ws` package's); the global WebSocket when omitted. */
  webSocketImpl?: unknown;
}

export interface CallOptions {
  /** Aborting it cancels the call: complete() and the other calls reject with the signal's reason; a stream throws it and the server cancels upstream. */
  signal?: AbortSignal;
}

export interface SwitchboardClient {
  /** Runs a completion (mutation createCompletion). */
  complete(input: CompletionInput, options?: CallOptions): Promise<Completion>;
  /** Streams a completion (subscription completionStream over graphql-ws). */
  stream(input: CompletionInput, options?: CallOptions): AsyncIterableIterator<CompletionStreamEvent>;
  /** The caller: key name, scope, team, and whether the gateway runs in local mode. */
  viewer(options?: CallOptions): Promise<Viewer>;
  usage(args: UsageArgs, options?: CallOptions): Promise<UsageReport>;
  /** Recent completions, newest first (client keys see only their own). */
  completions(args?: CompletionsArgs, options?: CallOptions): Promise<CompletionPage>;
  /** null when there is no such completion or the caller may not see it. */
  completion(id: string, options?: CallOptions): Promise<Completion | null>;
  providers(options?: CallOptions): Promise<Provider[]>;
  routes(options?: CallOptions): Promise<Route[]>;
  /** Creates or replaces a route (admin only). */
  upsertRoute(input: G.RouteInput, options?: CallOptions): Promise<Route>;
  /** Deletes a route (admin only); false when there was none. */
  deleteRoute(name: string, options?: CallOptions): Promise<boolean>;
  /**
   * Where a request would go, without calling a provider (an unknown route rejects with NOT_FOUND). With
   * `draft` (admin only), on that route definition as if it were saved: a dry run of an edit.
   */
  explainRoute(input: CompletionInput, options?: CallOptions & { draft?: G.RouteInput }): Promise<RouteExplanation>;
  /** Runtime API keys (admin only). */
  apiKeys(options?: CallOptions): Promise<ApiKey[]>;
  /** Creates a runtime key (admin only); its secret is in the result only. */
  createApiKey(input: G.ApiKeyInput, options?: CallOptions): Promise<CreatedApiKey>;
  /** Revokes a runtime key (admin only); false when there was no such key or it was already revoked. */
  revokeApiKey(id: string, options?: CallOptions): Promise<boolean>;
  /** Closes the stream socket, ending any open stream. HTTP calls need no closing. */
  close(): Promise<void>;
}
