import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { buildSchema, introspectionFromSchema, type ExecutionResult } from 'graphql';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';

/** Where the console keeps the API key of this tab (console/src/session.ts): GraphiQL starts with it as a header. */
const KEY_STORAGE = 'switchboard.apiKey';

const origin = window.location.origin;
const key = sessionStorage.getItem(KEY_STORAGE);
// The headers editor's values go with HTTP requests and, for subscriptions, as graphql-ws connectionParams.
const base = createGraphiQLFetcher({ url: `${origin}/graphql`, subscriptionUrl: `${origin.replace(/^http/, 'ws')}/graphql` });

/**
 * GraphiQL's introspection query is far above the gateway's complexity limit (every field counts, lists
 * ×10), so it is answered here from the subgraph's own SDL (`_service { sdl }`, Apollo Federation),
 * with the same headers; every other operation goes to the gateway as it is.
 */
async function introspect(headers: Record<string, string> | undefined): Promise<ExecutionResult> {
  const r = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  const body = (await r.json()) as ExecutionResult<{ _service?: { sdl?: string } }>;
  const sdl = body.data?._service?.sdl;
  if (typeof sdl !== 'string') return body;
  return { data: introspectionFromSchema(buildSchema(sdl, { assumeValidSDL: true })) as unknown as Record<string, unknown> };
}

const fetcher: Fetcher = (params, opts) =>
  params.operationName === 'IntrospectionQuery' ? introspect(opts?.headers as Record<string, string> | undefined) : base(params, opts);

const defaultHeaders = key ? JSON.stringify({ authorization: `Bearer ${key}` }, null, 2) : undefined;
const defaultQuery = `# Switchboard GraphQL API. Subscriptions (completionStream) run over WebSocket.
# Send an API key in the Headers tab below: {"authorization": "Bearer <key>"} (none in local mode).
{
  viewer { name scope localMode }
  routes { name strategy version targets { provider { id } model { id } } }
}
`;

const container = document.getElementById('graphiql');
if (container) createRoot(container).render(createElement(GraphiQL, { fetcher, defaultHeaders, defaultQuery, shouldPersistHeaders: false }));
