import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the replay server sends back for one request. */
export interface Replay {
  status?: number;
  headers?: Record<string, string>;
  /** Body pieces, written in order (one write each, so a parser sees real chunk boundaries). */
  chunks?: string[];
  /** Pause between pieces. */
  chunkDelayMs?: number;
  /** Destroy the socket after writing the chunks instead of ending the response cleanly. */
  destroy?: boolean;
  /** Never answer (for timeout tests); the socket is closed when the server closes. */
  hang?: boolean;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Parsed JSON body, or undefined. */
  json: unknown;
}

export interface ReplayServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server (port 0) that answers each request with whatever `handler` returns.
 * Adapter contract tests use it to replay recorded provider transcripts byte for byte.
 */
export async function startReplayServer(
  handler: (req: RecordedRequest) => Replay | Promise<Replay>,
): Promise<ReplayServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const recorded = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, json };
    requests.push(recorded);
    const r = await handler(recorded);
    if (r.hang) return;
    res.writeHead(r.status ?? 200, r.headers ?? { 'content-type': 'application/json' });
    res.flushHeaders();
    for (const [i, piece] of (r.chunks ?? []).entries()) {
      if (i > 0 && r.chunkDelayMs) await new Promise((ok) => setTimeout(ok, r.chunkDelayMs));
      res.write(piece);
    }
    if (r.destroy) {
      await new Promise((ok) => setTimeout(ok, 5));
      res.socket?.destroy();
      return;
    }
    res.end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Frames SSE events the way providers send them: `event:` (optional) and `data:` lines, blank line after. */
export function sse(events: Array<{ event?: string; data: unknown } | string>): string[] {
  return events.map((e) => {
    if (typeof e === 'string') return `data: ${e}\n\n`;
    const data = typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
    return `${e.event ? `event: ${e.event}\n` : ''}data: ${data}\n\n`;
  });
}
