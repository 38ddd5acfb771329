import type { Dispatcher } from 'undici';
import type {
  Capability,
  ChatRequest,
  ChatResponse,
  EmbeddingRequest,
  EmbeddingResponse,
  StreamPart,
} from '../core/index.ts';
import type { WireProtocol } from '../core/protocols.ts';
import type { CredentialsConfig } from '../config/config-schema.ts';

/** The wire protocols we speak (the protocol table's non-preset entries). */
export type Protocol = WireProtocol;

/** Timeouts of one upstream call, in milliseconds. */
export interface Timeouts {
  /** TCP/TLS connect. */
  connectMs: number;
  /** From sending the request to the response headers (the provider's time to first byte). */
  firstByteMs: number;
  /** Longest silence between two body chunks (a stalled stream). */
  idleMs: number;
  /** The whole call, body included. */
  totalMs: number;
}

/** Everything an adapter needs to make one call, chosen by the router for this attempt. */
export interface CallOptions {
  /** The model name as the provider knows it (config may alias it). */
  model: string;
  /** The model's declared capabilities; a request needing more is rejected with unsupported_feature. */
  capabilities: readonly Capability[];
  /** Used where the protocol requires max tokens (Anthropic) and the request gave none. */
  defaultMaxOutputTokens?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Overrides the provider's configured timeouts for this call. */
  timeouts?: Partial<Timeouts> | undefined;
  /** Extra headers for this call (e.g. the gateway's request id for tracing upstream). */
  headers?: Record<string, string> | undefined;
  /**
   * Prompt-cache breakpoints to place where the request placed none (config `promptCache`, a route's keys over
   * its provider's). Only protocols with explicit breakpoints (Anthropic) act on it; the others cache on their own.
   */
  promptCache?: PromptCachePolicy | undefined;
}

/** Where an adapter adds a cache breakpoint of its own: after the system prompt, after the last tool. */
export interface PromptCachePolicy {
  system?: boolean | undefined;
  tools?: boolean | undefined;
}

/**
 * A provider adapter: one configured deployment (base URL + key) of one protocol.
 * `generate` rejects with a GatewayError; `stream` never throws and ends with exactly one
 * `finish` or `error` part (see StreamPart).
 */
export interface ProviderAdapter {
  readonly id: string;
  readonly protocol: Protocol;
  /** For display (`Provider.baseUrl`); never carries a key. */
  readonly baseUrl: string;
  generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse>;
  stream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamPart>;
  /** Present when the protocol has an embeddings endpoint. */
  embed?(req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse>;
  /** Closes the connection pool. */
  close(): Promise<void>;
}

/** What an adapter factory receives: its slice of config plus injected dependencies. */
export interface AdapterConfig {
  id: string;
  baseUrl: string;
  apiKey?: string | undefined;
  /** Extra headers sent on every call (org ids, beta flags…). */
  headers?: Record<string, string> | undefined;
  timeouts: Timeouts;
  /** Max sockets per origin in the keep-alive pool. */
  maxConnections?: number | undefined;
  /** Protocol-specific settings (Azure api-version and deployments, Anthropic version/beta, …). */
  options?: Record<string, unknown> | undefined;
  /** AWS region (Bedrock): the default host and the SigV4 scope. */
  region?: string | undefined;
  /** Google Cloud project and location (Vertex AI). */
  project?: string | undefined;
  location?: string | undefined;
  /**
   * Where signed or token-bearing requests get their credentials (AWS chain, Google ADC, Entra ID). Absent: the
   * protocol's default chain where it has one (Bedrock, Vertex), else `apiKey`.
   */
  credentials?: CredentialsConfig | undefined;
}

export interface AdapterDeps {
  /** undici-compatible dispatcher factory; tests may inject one. Defaults to a keep-alive Pool. */
  dispatcher?: Dispatcher | undefined;
  /** Used for ids and timing; tests inject a fake. */
  now?: () => number;
  /** Replaces @azure/identity for Entra ID credentials (tests). */
  entraTokenSource?: { getToken(scope: string): Promise<{ token: string; expiresOnTimestamp: number } | null> } | undefined;
}

export type AdapterFactory = (config: AdapterConfig, deps?: AdapterDeps) => ProviderAdapter;
