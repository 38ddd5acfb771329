import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** The console's URL prefix; the Vite builds use it as their base, so asset URLs are `/console/assets/…`. */
export const CONSOLE_PREFIX = '/console';

/** console/dist at the repository root: two levels up from source, three from a build in dist/. */
const DEFAULT_DIR =
  [join(import.meta.dirname, '../../console/dist'), join(import.meta.dirname, '../../../console/dist')].find((d) => existsSync(join(d, '..', 'index.html'))) ??
  join(import.meta.dirname, '../../console/dist');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The pages talk only to this origin (GraphQL over fetch and WebSocket); uPlot and GraphiQL set inline
 * styles. No framing: the console holds an admin key, so no other site may overlay it.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** Vite names what it emits under assets/ by content hash: such a URL never changes meaning. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface ConsoleAssetsOptions {
  /** The built console (console/dist by default). */
  dir?: string;
  /** Serve the console's pages (/console and its deep links). */
  console: boolean;
  /** Serve GraphiQL (its page at GET /graphql; its assets under /console/assets/). */
  graphiql: boolean;
  /**
   * Told to the console at /console/session.json, so a first visit knows whether to ask for a key without
   * probing the API keyless (a 401 the browser would log as an error).
   */
  localMode?: boolean;
}

export interface ConsoleAssets {
  /** Answers a request under /console; false when the path is not the console's (or it is turned off) and was left alone. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
  /** Whether a GET /graphql is a browser asking for GraphiQL (enabled, no query, HTML preferred). */
  wantsGraphiQL(req: IncomingMessage, search: URLSearchParams): boolean;
  /** Answers with the GraphiQL page. */
  serveGraphiQL(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** The quality (q) an Accept header gives each listed media type, in order; a malformed q counts as 0. */
function acceptList(accept: string): Array<{ type: string; q: number }> {
  return accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return { type, q: Number.isFinite(q) ? q : 0 };
  });
}

/**
 * True when the Accept header prefers HTML to JSON: text/html is listed with q > 0 and no JSON type (the
 * GraphQL-over-HTTP ones) is listed with a higher q, or an equal one before it. A wildcard counts for
 * neither, so `*\/*` alone (curl, fetch) stays with JSON.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const list = acceptList(accept);
  const html = list.findIndex((m) => m.type === 'text/html' && m.q > 0);
  if (html === -1) return false;
  return !list.some((m, i) => (m.type === 'application/json' || m.type === 'application/graphql-response+json') && (m.q > list[html]!.q || (m.q === list[html]!.q && i < html)));
}

function notBuiltPage(res: ServerResponse, head: boolean): void {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The console is not built</h1>
<p>The gateway serves the web console and GraphiQL from <code>console/dist</code>, which does not exist yet.
Build it with:</p>
<pre><code>npm run build:console</code></pre>
<p>(<code>npm start</code> does this by itself.) Then reload this page; the gateway does not need a restart.</p>
</body></html>
`;
  res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'retry-after': '10', ...PAGE_HEADERS });
  res.end(head ? undefined : body);
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(`${text}\n`);
}

/**
 * Static files of the built console (console/dist): the Preact app at /console (paths without a file
 * extension are the app's own pages and get index.html), its hashed assets, and the GraphiQL page. Only
 * files inside the directory are ever read: `..`, encoded separators and dotfiles are refused.
 */
export function createConsoleAssets(opts: ConsoleAssetsOptions): ConsoleAssets {
  const root = resolve(opts.dir ?? DEFAULT_DIR);

  async function sendFile(req: IncomingMessage, res: ServerResponse, file: string, cacheControl: string): Promise<boolean> {
    let info;
    try {
      info = await stat(file);
    } catch {
      return false;
    }
    if (!info.isFile()) return false;
    const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const headers: Record<string, string> = { 'content-type': type, 'cache-control': cacheControl, etag, 'x-content-type-options': 'nosniff' };
    if (type.startsWith('text/html')) Object.assign(headers, PAGE_HEADERS);
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return true;
    }
    headers['content-length'] = String(info.size);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    try {
      await pipeline(createReadStream(file), res);
    } catch {
      res.destroy();
    }
    return true;
  }

  /** The file a URL path below /console/ names, or null when it would leave the directory or is hidden. */
  function fileOf(rest: string): string | null {
    let decoded: string;
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      return null;
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return null;
    const segments = decoded.split('/').filter((s) => s !== '');
    if (segments.some((s) => s.startsWith('.'))) return null;
    const file = resolve(root, ...segments);
    return file === root || file.startsWith(root + sep) ? file : null;
  }

  const built = () => existsSync(join(root, 'index.html'));

  return {
    async handle(req, res, path) {
      if (path !== CONSOLE_PREFIX && !path.startsWith(`${CONSOLE_PREFIX}/`)) return false;
      const rest = path.slice(CONSOLE_PREFIX.length + 1);
      const isAsset = rest.startsWith('assets/');
      if (!(opts.console || (opts.graphiql && isAsset))) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        plain(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
        return true;
      }
      if (!built()) {
        notBuiltPage(res, req.method === 'HEAD');
        return true;
      }
      if (rest === 'session.json') {
        const body = JSON.stringify({ localMode: opts.localMode === true });
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(body)) });
        res.end(req.method === 'HEAD' ? undefined : body);
        return true;
      }
      const file = fileOf(rest);
      if (file === null) {
        plain(res, 404, 'not found');
        return true;
      }
      // A path whose last segment has an extension is a file (404 when missing); any other is a page of the app.
      const last = rest.split('/').pop() ?? '';
      if (last.includes('.')) {
        if (!(await sendFile(req, res, file, isAsset ? IMMUTABLE : 'no-cache'))) plain(res, 404, 'not found');
        return true;
      }
      if (!(await sendFile(req, res, join(root, 'index.html'), 'no-cache'))) notBuiltPage(res, req.method === 'HEAD');
      return true;
    },
    wantsGraphiQL(req, search) {
      return opts.graphiql && (req.method === 'GET' || req.method === 'HEAD') && !search.has('query') && prefersHtml(req.headers.accept);
    },
    async serveGraphiQL(req, res) {
      if (!(await sendFile(req, res, join(root, 'graphiql.html'), 'no-cache'))) notBuiltPage(res, req.method === 'HEAD');
    },
  };
}
