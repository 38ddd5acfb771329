import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Whether a browser page at `origin` may talk to this gateway: its own origin (same host and port as the
 * request's Host header) or one listed in server.cors.origins. "null" (sandboxed frames, file: pages) and
 * anything that is not an http(s) origin never is.
 */
export function isAllowedOrigin(origin: string, host: string | undefined, allowed: ReadonlySet<string>): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (allowed.has(url.origin)) return true;
  if (!host) return false;
  try {
    // Parsed with the origin's scheme, so a default port written out (`:443`) or left out compares equal.
    return new URL(`${url.protocol}//${host}`).host === url.host;
  } catch {
    return false;
  }
}

/**
 * Refuses (HTTP 403, then closes) a WebSocket upgrade sent by a browser page of a foreign origin: browsers
 * do not apply the same-origin policy to WebSockets, so without this any site a local-mode user visits
 * could drive the gateway as an admin. Requests without Origin (non-browser clients) pass. True when refused.
 */
export function refuseForeignUpgrade(req: IncomingMessage, socket: Duplex, allowed: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || isAllowedOrigin(origin, req.headers.host, allowed)) return false;
  const body = 'WebSocket upgrade refused: Origin is not allowed (see server.cors.origins)\n';
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return true;
}

/**
 * Local mode (no keys: every caller is admin) trusts the loopback interface, and DNS rebinding defeats that: a
 * page on a domain the attacker re-points at 127.0.0.1 reaches the gateway as a same-origin caller, sending its
 * own domain as Host. So in local mode only loopback names are accepted as Host (`localhost`, `127.x.x.x`,
 * `[::1]`, any port); anything else is refused before routing.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = (host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':', 1)[0]!).toLowerCase();
  return name === 'localhost' || name === '[::1]' || /^127(\.\d{1,3}){3}$/.test(name);
}

/** isLoopbackHost remembering its last answer: every request of a local gateway carries the same Host. */
export function loopbackHostCheck(): (host: string | undefined) => boolean {
  let lastHost: string | undefined;
  let lastAnswer = false;
  return (host) => {
    if (host !== lastHost) {
      lastHost = host;
      lastAnswer = isLoopbackHost(host);
    }
    return lastAnswer;
  };
}

export const FOREIGN_HOST_MESSAGE = 'refused: in local mode (no API keys) only loopback host names (localhost, 127.0.0.1, [::1]) are served';
