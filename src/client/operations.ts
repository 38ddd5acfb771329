/**
 * The client's GraphQL operations: one document per call, fragments shared. GraphQL Code Generator reads
 * the `/* GraphQL *\/` strings of this file (codegen.ts) and writes their result and variable types to
 * generated.ts, so a field added here is typed after `npm run codegen`.
 *
 * The selections stay under the server's default complexity limit (server.graphql.maxComplexity 2,000,
 * lists counted as 10 items): list queries select summaries, details come from the single-item calls.
 */
import type * as G from './generated.ts';

/** A document whose result and variables are known types (the types exist only for the compiler). */
export type Operation<Result, Variables> = string & { readonly __operation?: [Result, Variables] };

const operation = <Result, Variables>(text: string) => text as Operation<Result, Variables>;

const ATTEMPT = /* GraphQL */ `
  fragment AttemptFields on Attempt {
    provider { id }
    model { id name }
    status
    errorCode
    latencyMs
    retryDelayMs
    costUsd
    validationError
    resumed
  }
`;

const USAGE_COUNTS = /* GraphQL */ `
  fragment UsageCountsFields on Usage {
    inputTokens
    outputTokens
    cachedInputTokens
    cacheWriteTokens
    reasoningTokens
    totalTokens
    estimated
  }
`;

const COMPLETION_SUMMARY = /* GraphQL */ `
  fragment CompletionSummaryFields on Completion {
    id
    route
    routeVersion
    provider { id }
    model { id name }
    upstreamModel
    finishReason
    usage { ...UsageCountsFields }
    costUsd
    priced
    latencyMs
    timeToFirstTokenMs
    cached
    createdAt
    traceId
  }
`;

const COMPLETION = /* GraphQL */ `
  fragment CompletionFields on Completion {
    ...CompletionSummaryFields
    message {
      role
      content
      toolCalls { id name arguments }
    }
    priceSource
    priceVersion
    attempts { ...AttemptFields }
  }
`;

const COMPLETION_FRAGMENTS = `${COMPLETION}${COMPLETION_SUMMARY}${USAGE_COUNTS}${ATTEMPT}`;

export const CompleteDocument = operation<G.CompleteMutation, G.CompleteMutationVariables>(/* GraphQL */ `
  mutation Complete($input: CompletionInput!) {
    createCompletion(input: $input) { ...CompletionFields }
  }
  ${COMPLETION_FRAGMENTS}
`);

export const CompletionStreamDocument = operation<G.CompletionStreamSubscription, G.CompletionStreamSubscriptionVariables>(/* GraphQL */ `
  subscription CompletionStream($input: CompletionInput!) {
    completionStream(input: $input) {
      __typename
      ... on CompletionStartEvent {
        completionId
        route
        routeVersion
        provider { id }
        model { id name }
      }
      ... on TextDeltaEvent { text }
      ... on ReasoningDeltaEvent { text index signature redacted }
      ... on ToolCallDeltaEvent { index id name argumentsDelta }
      ... on SwitchEvent {
        from { model { id } }
        to { model { id } }
        reason
        errorCode
        resumed
      }
      ... on CompletionDoneEvent { completion { ...CompletionFields } }
      ... on CompletionErrorEvent {
        completionId
        code
        message
        partialText
        retryable
        attempts { ...AttemptFields }
      }
    }
  }
  ${COMPLETION_FRAGMENTS}
`);

export const ViewerDocument = operation<G.ViewerQuery, G.ViewerQueryVariables>(/* GraphQL */ `
  query Viewer {
    viewer { name scope localMode team }
  }
`);

const USAGE_STATS = /* GraphQL */ `
  fragment UsageStatsFields on UsageStats {
    requests
    errors
    errorRate
    errorsByKind { code count }
    inputTokens
    outputTokens
    cachedInputTokens
    cacheWriteTokens
    reasoningTokens
    totalTokens
    costUsd
    unpricedRequests
    estimatedRequests
    cacheHits
    cacheHitRate
    latencyMeanMs
    latencyP50Ms
    latencyP95Ms
    latencyP99Ms
  }
`;

export const UsageDocument = operation<G.UsageQuery, G.UsageQueryVariables>(/* GraphQL */ `
  query Usage($filter: UsageFilter!, $groupBy: [UsageGroupBy!] = [], $interval: UsageInterval = HOUR) {
    usage(filter: $filter, groupBy: $groupBy, interval: $interval) {
      from
      to
      interval
      groupBy
      totals { ...UsageStatsFields }
      series {
        group { provider model route apiKey team operation }
        totals { requests errors costUsd totalTokens unpricedRequests cacheHits latencyP95Ms }
        points {
          start
          stats { requests errors inputTokens outputTokens totalTokens costUsd cacheHits latencyP50Ms latencyP95Ms }
        }
      }
    }
  }
  ${USAGE_STATS}
`);

export const CompletionsDocument = operation<G.CompletionsQuery, G.CompletionsQueryVariables>(/* GraphQL */ `
  query Completions($first: Int = 20, $after: String, $filter: CompletionFilter) {
    completions(first: $first, after: $after, filter: $filter) {
      edges { cursor node { ...CompletionSummaryFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
  ${COMPLETION_SUMMARY}${USAGE_COUNTS}
`);

export const CompletionDocument = operation<G.CompletionQuery, G.CompletionQueryVariables>(/* GraphQL */ `
  query Completion($id: ID!) {
    completion(id: $id) { ...CompletionFields }
  }
  ${COMPLETION_FRAGMENTS}
`);

export const ProvidersDocument = operation<G.ProvidersQuery, G.ProvidersQueryVariables>(/* GraphQL */ `
  query Providers {
    providers {
      id
      protocol
      baseUrl
      models {
        id
        name
        upstreamName
        contextWindow
        maxOutputTokens
        capabilities
        price { input output cachedInput cacheWrite reasoning }
      }
      health {
        status
        p50LatencyMs
        p95LatencyMs
        errorRate
        sampleSize
        circuits { model state reason retryInMs }
      }
    }
  }
`);

const ROUTE = /* GraphQL */ `
  fragment RouteFields on Route {
    name
    strategy
    version
    targets {
      provider { id health { status } }
      model { id name }
      weight
      tier
      when { task minInputTokens maxInputTokens capabilities metadata }
    }
    maxAttempts
    deadlineMs
    resumeStreams
    streamTimeouts { firstTokenMs idleMs }
    expectedOutputTokens
    validator { jsonSchema nonEmpty regex maxLength refusal }
    promptCache { system tools }
    unsupportedParams
  }
`;

export const RoutesDocument = operation<G.RoutesQuery, G.RoutesQueryVariables>(/* GraphQL */ `
  query Routes {
    routes { ...RouteFields }
  }
  ${ROUTE}
`);

export const UpsertRouteDocument = operation<G.UpsertRouteMutation, G.UpsertRouteMutationVariables>(/* GraphQL */ `
  mutation UpsertRoute($input: RouteInput!) {
    upsertRoute(input: $input) { ...RouteFields }
  }
  ${ROUTE}
`);

export const DeleteRouteDocument = operation<G.DeleteRouteMutation, G.DeleteRouteMutationVariables>(/* GraphQL */ `
  mutation DeleteRoute($name: String!) {
    deleteRoute(name: $name)
  }
`);

export const ExplainRouteDocument = operation<G.ExplainRouteQuery, G.ExplainRouteQueryVariables>(/* GraphQL */ `
  query ExplainRoute($input: CompletionInput!, $draft: RouteInput) {
    explainRoute(input: $input, draft: $draft) {
      route
      routeVersion
      strategy
      estimatedInputTokens
      chosen { provider { id } model { id name } weight tier }
      candidates { provider { id } model { id name } weight tier }
      candidateDetails { provider { id } model { id name } expectedCostUsd p95LatencyMs circuit }
      excluded { provider { id } model { id name } reason }
    }
  }
`);

const API_KEY = /* GraphQL */ `
  fragment ApiKeyFields on ApiKey {
    id
    name
    scope
    routes
    models
    team
    user
    prefix
    createdAt
    revokedAt
  }
`;

export const ApiKeysDocument = operation<G.ApiKeysQuery, G.ApiKeysQueryVariables>(/* GraphQL */ `
  query ApiKeys {
    apiKeys { ...ApiKeyFields }
  }
  ${API_KEY}
`);

export const CreateApiKeyDocument = operation<G.CreateApiKeyMutation, G.CreateApiKeyMutationVariables>(/* GraphQL */ `
  mutation CreateApiKey($input: ApiKeyInput!) {
    createApiKey(input: $input) {
      secret
      key { ...ApiKeyFields }
    }
  }
  ${API_KEY}
`);

export const RevokeApiKeyDocument = operation<G.RevokeApiKeyMutation, G.RevokeApiKeyMutationVariables>(/* GraphQL */ `
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id)
  }
`);
