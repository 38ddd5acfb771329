import type { Operation } from './operations.ts';
import { fromGraphQLErrors, isGraphQLErrors, networkError, SwitchboardError } from './switchboard-error.ts';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface HttpTransportOptions {
  /** The gateway's GraphQL endpoint (`…/graphql`). */
  endpoint: string;
  apiKey?: string | undefined;
  fetch?: FetchLike | undefined;
}

export type GraphQLRequest = <Result, Variables>(operation: Operation<Result, Variables>, variables: Variables, signal?: AbortSignal) => Promise<Result>;

/** The name of a document's operation, for the server's logs and spans. */
function operationName(document: string): string | undefined {
  return /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(document)?.[1];
}

/**
 * Queries and mutations over HTTP: POST JSON to the endpoint, the key as a bearer token. Any GraphQL error
 * in the response rejects the call (the client's operations have no use for partial data); an aborted
 * signal rejects with the signal's reason, as fetch does.
 */
export function createHttpTransport(options: HttpTransportOptions): GraphQLRequest {
  // Called through a wrapper: a browser's fetch throws "Illegal invocation" when called as a method of another object.
  const doFetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
    ...(options.apiKey !== undefined && { authorization: `Bearer ${options.apiKey}` }),
  };

  return async function request<Result, Variables>(operation: Operation<Result, Variables>, variables: Variables, signal?: AbortSignal): Promise<Result> {
    const body = JSON.stringify({ query: operation, variables, operationName: operationName(operation) });
    let res: Response;
    let text: string;
    try {
      res = await doFetch(options.endpoint, { method: 'POST', headers, body, ...(signal && { signal }) });
      text = await res.text();
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw networkError(`could not reach the gateway at ${options.endpoint}: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    let json: { data?: unknown; errors?: unknown } | undefined;
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = undefined;
    }
    if (json && isGraphQLErrors(json.errors)) throw fromGraphQLErrors(json.errors, res.status);
    if (!res.ok || !json || typeof json.data !== 'object' || json.data === null) {
      throw new SwitchboardError(`the gateway answered HTTP ${res.status} without a GraphQL result`, { code: 'BAD_RESPONSE', status: res.status });
    }
    return json.data as Result;
  };
}
