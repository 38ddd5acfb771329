import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Faults } from './faults.ts';
import type { PrefixCache } from './reply.ts';
import type { ThoughtSigner } from './thinking.ts';

export const SIM_PROTOCOLS = ['openai', 'anthropic', 'gemini', 'ollama', 'bedrock', 'vertex'] as const;
export type SimProtocol = (typeof SIM_PROTOCOLS)[number];

export interface SimRequest {
  method: string;
  /** URL path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined for GET or an empty body). */
  body: unknown;
  /** An `application/x-www-form-urlencoded` body (an OAuth token request), parsed instead of `body`. */
  form?: URLSearchParams | undefined;
  /** The request target as received (path and query, not normalized): what a request signature covers (SigV4). */
  rawUrl?: string | undefined;
  /** The body's bytes as received: what a request signature covers (SigV4). */
  rawBody?: Buffer | undefined;
}

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes a streamed response chunk by chunk, applying the stream faults. */
export interface StreamWriter {
  /** Sends headers (content type chosen by the protocol) and flushes them. */
  begin(headers: Record<string, string>): void;
  /**
   * Writes one frame. `content` frames count towards chunkDelayMs, disconnectAfterChunks and
   * errorAfterChunks. Returns false when the connection is gone (fault or client abort): stop writing.
   */
  write(frame: string, content?: boolean): Promise<boolean>;
  /** `write` for a binary frame (an AWS event-stream message); the server's writer always has it. */
  writeBytes?(frame: Uint8Array, content?: boolean): Promise<boolean>;
  /**
   * True when exactly errorAfterChunks content frames have been written: check it after each content frame,
   * and before the first one (errorAfterChunks 0 means an error before any content).
   */
  readonly errorDue: boolean;
  /** Content frames written so far. */
  readonly contentFrames: number;
  end(): void;
}

export interface SimContext {
  req: SimRequest;
  res: ServerResponse;
  faults: Faults;
  /** Shared per simulator: remembers cacheable prefixes across requests. */
  prefixCache: PrefixCache;
  /** Shared per simulator: issues and checks thinking signatures (only its own are accepted back). */
  signer: ThoughtSigner;
  sendJson(status: number, body: unknown, headers?: Record<string, string>): void;
  /** Sends the protocol's error envelope for `status` (retry-after from faults for 429/503/529). */
  sendError(status: number, message: string, kind?: SimErrorKind): void;
  stream(): StreamWriter;
  /** Per-simulator settings beyond faults, for protocols that keep state of their own (Vertex's token endpoint). */
  settings?: SimSettings | undefined;
}

export interface SimSettings {
  /** The simulator's clock (SimulatorOptions.now, else Date.now). */
  now: () => number;
  /** Vertex: lifetime in seconds of the OAuth access tokens the simulator's token endpoint issues. */
  tokenLifetimeS?: number | undefined;
  /** Bedrock: the AWS keys whose SigV4 signatures are accepted (SimulatorOptions.awsCredentials). */
  awsCredentials?: readonly SimAwsCredential[] | undefined;
}

/** A key pair an AWS simulator accepts; temporary keys carry their session token and when it expires. */
export interface SimAwsCredential {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, requests must carry it as `x-amz-security-token`. */
  sessionToken?: string | undefined;
  /** Epoch ms after which the keys are refused with ExpiredTokenException. */
  expiresAt?: number | undefined;
}

/** What an injected or detected error is, so each protocol can phrase it in its own envelope. */
export type SimErrorKind = 'rate_limit' | 'overloaded' | 'server' | 'context_length' | 'auth' | 'not_found' | 'bad_request';

/**
 * One wire protocol spoken by the simulator. Implementations are independent of the adapters in
 * src/providers (they must not import them): if both shared code, both could be wrong the same way.
 */
export interface ProtocolSimulator {
  readonly protocol: SimProtocol;
  /** Handles the request if the path belongs to this protocol; returns false otherwise (→ 404). */
  handle(ctx: SimContext): Promise<boolean>;
  /** The protocol's own error envelope and headers for a status. */
  errorResponse(status: number, message: string, kind: SimErrorKind, retryAfterS?: number): ErrorResponse;
  /**
   * Checks a request's credentials the protocol's own way (Bedrock: its SigV4 signature), before any fault is
   * injected, as the real service authenticates first; an error response refuses the request.
   */
  authenticate?(req: SimRequest, settings: SimSettings): ErrorResponse | undefined;
  /** The API key the client sent, as this protocol carries it (for the optional auth check). */
  apiKeyOf(req: SimRequest): string | undefined;
}

/** The error kind an injected status stands for. */
export function kindOfInjectedStatus(status: number): SimErrorKind {
  if (status === 429) return 'rate_limit';
  if (status === 529 || status === 503) return 'overloaded';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status >= 500) return 'server';
  return 'bad_request';
}
