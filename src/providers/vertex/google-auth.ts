import { readFile } from 'node:fs/promises';
import type { AuthClient } from 'google-auth-library';
import { GatewayError } from '../../core/index.ts';
import { createCredentialCache } from '../shared/credential-cache.ts';

/**
 * OAuth access tokens for Vertex AI from google-auth-library, loaded with a dynamic import on first use (a
 * gateway without a Vertex provider never loads it): a service-account or external-account key file when config
 * names one, else application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's file, workload
 * identity, the metadata server). One token is kept in a credential cache and renewed before it expires; the
 * library's own eager refresh is set so that it fetches a new token whenever the cache asks for one.
 *
 * A service-account key file's `token_uri` is honoured, as Google's Python and Go libraries do (a private token
 * endpoint, the simulator): google-auth-library always posts to Google's URL, so its transporter gets a request
 * interceptor — the library's supported hook — that sends token requests to `token_uri` instead.
 */

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** Longer than any token lives: the library then treats the token it holds as due, and the cache here decides. */
const ALWAYS_REFRESH_MS = 366 * 24 * 3600_000;
/** For a credential whose expiry the library does not report. */
const ASSUMED_LIFETIME_MS = 10 * 60_000;

export interface GoogleTokenOptions {
  provider: string;
  /** A key file; absent: application default credentials. */
  keyFile?: string | undefined;
  scopes?: readonly string[] | undefined;
  now?: (() => number) | undefined;
  /** Called with each token loaded (the adapter masks them in its errors). */
  onToken?: ((token: string) => void) | undefined;
}

export interface GoogleTokens {
  /** A current access token. Rejects with a `provider_auth` GatewayError that never quotes a secret. */
  get(): Promise<string>;
  /** Vertex refused the token (401): the next `get` loads a new one. */
  invalidate(): void;
}

export function createGoogleTokens(opts: GoogleTokenOptions): GoogleTokens {
  const now = opts.now ?? Date.now;
  let client: Promise<AuthClient> | undefined;

  async function newClient(): Promise<AuthClient> {
    const { GoogleAuth } = await import('google-auth-library');
    const auth = new GoogleAuth({
      ...(opts.keyFile !== undefined && { keyFilename: opts.keyFile }),
      scopes: [...(opts.scopes ?? [CLOUD_PLATFORM_SCOPE])],
      clientOptions: { eagerRefreshThresholdMillis: ALWAYS_REFRESH_MS },
    });
    const c = await auth.getClient();
    const tokenUri = await tokenUriOf(opts.keyFile ?? process.env.GOOGLE_APPLICATION_CREDENTIALS);
    if (tokenUri !== undefined) {
      c.transporter.interceptors.request.add({
        resolved: async (request) => {
          if (request.url.href === GOOGLE_TOKEN_URL) request.url = new URL(tokenUri);
          return request;
        },
      });
    }
    return c;
  }

  const cache = createCredentialCache<string>({
    now,
    load: async () => {
      try {
        client ??= newClient().catch((err: unknown) => {
          client = undefined;
          throw err;
        });
        const c = await client;
        const { token } = await c.getAccessToken();
        if (!token) throw new Error('the credentials gave no access token');
        opts.onToken?.(token);
        // The library's expiry is wall-clock time; the cache runs on `now` (a test's clock).
        const expiry = c.credentials.expiry_date;
        const left = typeof expiry === 'number' ? expiry - Date.now() : ASSUMED_LIFETIME_MS;
        return { value: token, expiresAt: now() + left };
      } catch (err) {
        throw authError(opts.provider, err);
      }
    },
  });
  return { get: () => cache.get(), invalidate: () => cache.invalidate() };
}

/** The `token_uri` of a service-account key file when it is not Google's own. */
async function tokenUriOf(path: string | undefined): Promise<string | undefined> {
  if (path === undefined || path === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    // GoogleAuth read the same file a moment ago: a failure there was already reported.
    return undefined;
  }
  if (json === null || typeof json !== 'object') return undefined;
  const { type, token_uri: uri } = json as { type?: unknown; token_uri?: unknown };
  if (type !== 'service_account' || typeof uri !== 'string' || uri === GOOGLE_TOKEN_URL || !URL.canParse(uri)) return undefined;
  const protocol = new URL(uri).protocol;
  return protocol === 'https:' || protocol === 'http:' ? uri : undefined;
}

/** Anything that could be a credential in a library error's text: a JWT, an access token, a PEM block. */
const SECRET_SHAPES = [/-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g, /\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, /\bya29\.[\w.-]+/g];

/**
 * Why no token could be had, in words safe to show: the token endpoint's OAuth error, a missing file, or the
 * library's message with anything credential-shaped masked. A key file that is not JSON is named as such and not
 * quoted (a parser's message quotes the text it choked on: the private key).
 */
function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; response?: { status?: unknown; data?: unknown } } | null;
  if (err instanceof SyntaxError) return 'the key file is not valid JSON';
  if (e?.code === 'ENOENT') return 'the key file does not exist';
  if (e?.code === 'EACCES') return 'the key file cannot be read';
  let message: string;
  const status = e?.response?.status;
  if (typeof status === 'number') {
    const data = e?.response?.data as { error?: unknown; error_description?: unknown } | undefined;
    const what = [data?.error, data?.error_description].filter((s): s is string => typeof s === 'string').join(': ');
    message = `the token endpoint answered HTTP ${status}${what ? ` (${what})` : ''}`;
  } else {
    message = err instanceof Error ? err.message : String(err);
  }
  // Even a token endpoint's own words: one that quotes the request back would quote the signed assertion.
  for (const shape of SECRET_SHAPES) message = message.replace(shape, '[REDACTED]');
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}

export function authError(provider: string, err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('provider_auth', `${provider}: could not get a Google access token: ${reasonOf(err)}`, { provider });
}
