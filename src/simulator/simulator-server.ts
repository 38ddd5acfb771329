import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { echoedRequest, FaultsSchema, resolveFaults, type Faults, type FaultsInput } from './faults.ts';
import { kindOfInjectedStatus, type ProtocolSimulator, type SimAwsCredential, type SimContext, type SimErrorKind, type SimProtocol, type SimRequest, type StreamWriter } from './protocol.ts';
import { PrefixCache } from './reply.ts';
import { ThoughtSigner } from './thinking.ts';
import { anthropicSimulator } from './anthropic-simulator.ts';
import { bedrockSimulator } from './bedrock-simulator.ts';
import { geminiSimulator } from './gemini-simulator.ts';
import { ollamaSimulator } from './ollama-simulator.ts';
import { openaiSimulator } from './openai-simulator.ts';
import { vertexSimulator } from './vertex-simulator.ts';

const PROTOCOLS: Record<SimProtocol, ProtocolSimulator> = {
  openai: openaiSimulator,
  anthropic: anthropicSimulator,
  gemini: geminiSimulator,
  ollama: ollamaSimulator,
  bedrock: bedrockSimulator,
  vertex: vertexSimulator,
};

export interface SimulatorOptions {
  protocol: SimProtocol;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  faults?: FaultsInput;
  /** When set, requests must carry this key the protocol's way, or get the protocol's 401. */
  apiKey?: string;
  /** Secret of the thinking signatures this simulator issues; random per instance when unset. */
  signingSecret?: string;
  /** Injected for deterministic error rates in tests. */
  random?: () => number;
  /** The prompt caches' clock (entry lifetimes); Date.now by default. */
  now?: () => number;
  /** Vertex: lifetime in seconds of the access tokens its OAuth token endpoint issues (default 3600). */
  tokenLifetimeS?: number;
  /**
   * Bedrock: the AWS keys whose SigV4 signatures are accepted. Default: the documented test pair
   * AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY (src/simulator/bedrock-sigv4.ts).
   */
  awsCredentials?: SimAwsCredential[];
}

export interface SimulatorStats {
  requests: number;
  /** Requests whose client went away before the response was complete (an abort upstream of us). */
  aborted: number;
  completed: number;
  /** Requests currently open. */
  inFlight: number;
  /**
   * Bytes of streamed frames the sockets have taken. A stream waits for 'drain' when its socket's buffer
   * is full, as TCP makes a real provider wait, so this stops growing while the client does not read.
   */
  streamedBytes: number;
}

export interface Simulator {
  readonly protocol: SimProtocol;
  readonly url: string;
  readonly port: number;
  readonly stats: SimulatorStats;
  /** Emits 'request' (SimRequest) when one arrives and 'abort' (SimRequest) when a client goes away mid-response. */
  readonly events: EventEmitter;
  /** Replaces the simulator-wide faults (per-request headers still override them). */
  setFaults(faults: FaultsInput): void;
  close(): Promise<void>;
}

const MAX_BODY = 20 * 1024 * 1024;

/** Starts one simulator: an HTTP server that speaks one provider protocol, with fault injection. */
export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const proto = PROTOCOLS[opts.protocol];
  let baseFaults: Faults = FaultsSchema.parse(opts.faults ?? {});
  const random = opts.random ?? Math.random;
  const prefixCache = new PrefixCache(opts.now);
  const signer = new ThoughtSigner(opts.signingSecret);
  const stats: SimulatorStats = { requests: 0, aborted: 0, completed: 0, inFlight: 0, streamedBytes: 0 };
  const events = new EventEmitter();
  const settings = { now: opts.now ?? Date.now, tokenLifetimeS: opts.tokenLifetimeS, awsCredentials: opts.awsCredentials };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        const e = proto.errorResponse(500, `simulator error: ${err instanceof Error ? err.message : String(err)}`, 'server');
        res.writeHead(e.status, e.headers).end(e.body);
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 65_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    stats.inFlight++;
    const url = new URL(req.url ?? '/', 'http://sim');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > MAX_BODY) {
        const e = proto.errorResponse(413, 'request too large', 'bad_request');
        res.writeHead(e.status, e.headers).end(e.body);
        return;
      }
      chunks.push(c);
    }
    const rawBody = Buffer.concat(chunks);
    const raw = rawBody.toString('utf8');
    const simReq: SimRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: undefined, rawUrl: req.url, rawBody };
    let finished = false;
    res.once('finish', () => {
      finished = true;
    });
    res.once('close', () => {
      stats.inFlight--;
      if (finished) stats.completed++;
      else {
        stats.aborted++;
        events.emit('abort', simReq);
      }
    });
    events.emit('request', simReq);

    const sendError = (status: number, message: string, kind?: SimErrorKind, quote?: string) => {
      const e = proto.errorResponse(status, message, kind ?? kindOfInjectedStatus(status), faults.retryAfterS);
      if (!res.headersSent) res.writeHead(e.status, e.headers).end(quote === undefined ? e.body : withMessage(e.body, quote));
    };
    let faults: Faults;
    try {
      faults = resolveFaults(baseFaults, req.headers);
    } catch (err) {
      faults = baseFaults;
      sendError(400, `bad x-sim-* fault header: ${err instanceof Error ? err.message : String(err)}`, 'bad_request');
      return;
    }
    if (raw && /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
      simReq.form = new URLSearchParams(raw);
    } else if (raw) {
      try {
        simReq.body = JSON.parse(raw);
      } catch {
        sendError(400, 'request body is not valid JSON', 'bad_request');
        return;
      }
    }
    if (opts.apiKey !== undefined && proto.apiKeyOf(simReq) !== opts.apiKey) {
      sendError(401, 'invalid api key', 'auth');
      return;
    }
    const refused = proto.authenticate?.(simReq, settings);
    if (refused) {
      res.writeHead(refused.status, refused.headers).end(refused.body);
      return;
    }
    if (faults.hang) return; // never answer; the client's timeout or abort ends it
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (res.destroyed) return;
    if (faults.status !== undefined && (faults.errorRate === 0 || random() < faults.errorRate)) {
      sendError(faults.status, injectedMessage(faults.status), undefined, faults.echoHeaders ? echoedRequest(faults.status, req.headers) : undefined);
      return;
    }
    if (faults.status === undefined && faults.errorRate > 0 && random() < faults.errorRate) {
      sendError(500, injectedMessage(500));
      return;
    }
    const ctx: SimContext = {
      req: simReq,
      res,
      faults,
      prefixCache,
      signer,
      sendJson: (status, body, headers) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      },
      sendError,
      stream: () => createStreamWriter(res, faults, stats),
      settings,
    };
    const handled = await proto.handle(ctx);
    if (!handled) sendError(404, `no route for ${simReq.method} ${simReq.path}`, 'not_found');
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  return {
    protocol: opts.protocol,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    stats,
    events,
    setFaults: (f) => {
      baseFaults = FaultsSchema.parse(f);
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

function injectedMessage(status: number): string {
  switch (status) {
    case 429:
      return 'Rate limit reached (simulated).';
    case 503:
    case 529:
      return 'Overloaded (simulated).';
    default:
      return `Simulated failure with status ${status}.`;
  }
}

/** A protocol's error envelope with its message replaced: `{"error":"…"}` (Ollama) or `{…"error":{"message":…}}`. */
function withMessage(body: string, text: string): string {
  try {
    const json = JSON.parse(body) as { error?: unknown };
    if (typeof json.error === 'string') json.error = text;
    else if (json.error !== null && typeof json.error === 'object') (json.error as { message?: unknown }).message = text;
    // AWS envelopes carry the message at the top level (`{"message": …}`).
    else if (typeof (json as { message?: unknown }).message === 'string') (json as { message?: unknown }).message = text;
    return JSON.stringify(json);
  } catch {
    return body;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

/** Resolves true when a full response buffer has drained, false when the connection closed first. */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onDrain = () => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = () => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

function createStreamWriter(res: ServerResponse, faults: Faults, stats: SimulatorStats): StreamWriter {
  let contentFrames = 0;
  async function send(frame: string | Uint8Array, content = false): Promise<boolean> {
    if (res.destroyed) return false;
    if (content && faults.disconnectAfterChunks !== undefined && contentFrames >= faults.disconnectAfterChunks) {
      // disconnectAfterChunks 0: cut before the first content frame.
      res.socket?.destroy();
      return false;
    }
    if (content) {
      if (contentFrames > 0 && faults.chunkDelayMs > 0) await sleep(faults.chunkDelayMs);
      if (res.destroyed) return false;
    }
    const bytes = Buffer.byteLength(frame);
    for (let i = content ? faults.repeatChunks : 1; i > 0; i--) {
      stats.streamedBytes += bytes;
      if (!res.write(frame) && !(await drained(res))) return false;
    }
    if (content) {
      contentFrames++;
      if (faults.disconnectAfterChunks !== undefined && contentFrames >= faults.disconnectAfterChunks) {
        // Let the frame reach the client, then cut the connection without ending the response.
        await new Promise<void>((ok) => res.write('', () => ok()));
        res.socket?.destroy();
        return false;
      }
    }
    return true;
  }
  return {
    begin(headers) {
      res.writeHead(200, headers);
      res.flushHeaders();
      // Each frame is its own TCP write, as a real provider's would be: no Nagle batching.
      res.socket?.setNoDelay(true);
    },
    write: send,
    writeBytes: send,
    get errorDue() {
      return faults.errorAfterChunks !== undefined && contentFrames === faults.errorAfterChunks;
    },
    get contentFrames() {
      return contentFrames;
    },
    end() {
      if (!res.destroyed) res.end();
    },
  };
}
