import type { ServerResponse } from 'node:http';
import type { GraphQLFormattedError } from 'graphql/index.js';

/** A GraphQL response of errors only, for failures before Apollo sees the request. */
export function writeErrors(res: ServerResponse, status: number, errors: GraphQLFormattedError[], extraHeaders: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...extraHeaders });
  res.end(body);
}
