// graphql-js is imported as 'graphql/index.js' throughout (the build Node and every Apollo package load): under
// vitest a bare 'graphql' resolves to index.mjs, and schema objects from the two builds reject each other.
import { GraphQLError } from 'graphql/index.js';
import { gatewayErrorExtensions } from '../../../resolvers/error-extensions.ts';
import { GatewayError } from '../../core/index.ts';

/**
 * Deepest nesting of braces, parentheses and brackets a document may have. graphql-js parses recursively
 * (a few stack frames a level) and overflows the stack at some thousands of levels; validation recurses too.
 * Far above anything maxDepth lets through.
 */
export const MAX_NESTING = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HASH = 0x23;
const NEWLINE = 0x0a;
const CR = 0x0d;

/** Whether `source` nests deeper than `max`; strings, block strings and comments are skipped like the lexer does. */
export function nestsDeeperThan(source: string, max: number): boolean {
  let depth = 0;
  const n = source.length;
  for (let i = 0; i < n; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x7b || c === 0x28 || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x29 || c === 0x5d) {
      depth--;
    } else if (c === HASH) {
      while (i + 1 < n && source.charCodeAt(i + 1) !== NEWLINE && source.charCodeAt(i + 1) !== CR) i++;
    } else if (c === QUOTE) {
      if (source.charCodeAt(i + 1) === QUOTE && source.charCodeAt(i + 2) === QUOTE) {
        // Block string: ends at the next """ not escaped as \""".
        i += 3;
        while (i < n && !(source.charCodeAt(i) === QUOTE && source.charCodeAt(i + 1) === QUOTE && source.charCodeAt(i + 2) === QUOTE)) {
          i += source.charCodeAt(i) === BACKSLASH && source.startsWith('"""', i + 1) ? 4 : 1;
        }
        i += 2;
      } else {
        i++;
        while (i < n && source.charCodeAt(i) !== QUOTE && source.charCodeAt(i) !== NEWLINE && source.charCodeAt(i) !== CR) {
          if (source.charCodeAt(i) === BACKSLASH) i++;
          i++;
        }
      }
    }
  }
  return false;
}

/** A refused document: the GraphQL error and the HTTP status it is sent with. */
export interface DocumentRejection {
  status: number;
  error: GraphQLError;
}

/**
 * Checks a query's text before anything parses or caches it: its size (413 PAYLOAD_TOO_LARGE, naming
 * server.graphql.maxDocumentBytes) and its nesting (400 GRAPHQL_PARSE_FAILED, rather than a stack overflow
 * in the parser). Undefined when the text may go on to the parser.
 */
export function checkDocument(query: string, maxBytes: number): DocumentRejection | undefined {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: only count bytes when the length alone cannot decide.
  const bytes = query.length * 3 <= maxBytes ? query.length : Buffer.byteLength(query);
  if (bytes > maxBytes) {
    const e = new GatewayError('payload_too_large', `the GraphQL document is ${bytes} bytes; the limit is ${maxBytes} (server.graphql.maxDocumentBytes)`, {
      param: 'query',
    });
    return { status: 413, error: new GraphQLError(e.message, { originalError: e, extensions: gatewayErrorExtensions(e) }) };
  }
  if (nestsDeeperThan(query, MAX_NESTING)) {
    return {
      status: 400,
      error: new GraphQLError(`the GraphQL document nests deeper than ${MAX_NESTING} levels of braces, parentheses or brackets`, {
        extensions: { code: 'GRAPHQL_PARSE_FAILED' },
      }),
    };
  }
  return undefined;
}

/** The query text(s) of an HTTP request, wherever it carries them (a GET's search, a JSON body, a batch). */
export function queriesOf(method: string | undefined, search: URLSearchParams, body: unknown): string[] {
  if (method === 'GET') {
    const q = search.get('query');
    return q === null ? [] : [q];
  }
  const operations = Array.isArray(body) ? body : [body];
  return operations.flatMap((op) => (typeof op === 'object' && op !== null && typeof (op as { query?: unknown }).query === 'string' ? [(op as { query: string }).query] : []));
}

/**
 * Errors Apollo raises without a code, which its formatter (and ours) would report as INTERNAL_SERVER_ERROR
 * although the client is at fault. An APQ registration whose hash is not its query's gets the code Apollo
 * Router uses (Apollo Server 5 sends the same message and a 400, but no code).
 */
export function clientErrorCode(error: unknown): string | undefined {
  if (!(error instanceof GraphQLError) || error.extensions.code !== undefined) return undefined;
  if (error.message === 'provided sha does not match query') return 'PERSISTED_QUERY_HASH_MISMATCH';
  return undefined;
}

/** A syntax error (or anything else the parser threw) as the client error it is, coded as Apollo codes it over HTTP. */
export function parseFailed(e: unknown): GraphQLError {
  const message = e instanceof GraphQLError ? e.message : 'the query could not be parsed';
  return new GraphQLError(message, {
    ...(e instanceof GraphQLError && { source: e.source, positions: e.positions }),
    extensions: { code: 'GRAPHQL_PARSE_FAILED' },
  });
}
