import { generateKeyPair, randomBytes, verify, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { SimContext } from './protocol.ts';
import type { PrefixCache } from './reply.ts';

/**
 * Google OAuth for the Vertex AI simulator, independent of src/providers/vertex and of google-auth-library:
 *
 * - `GET /service-account.json`: a service-account key file for this simulator instance (an RSA key pair made
 *   on first use), its `token_uri` pointing at this simulator. Any client that can read it can mint tokens: it
 *   is a test credential for a loopback simulator, nothing more.
 * - `POST /token`: the OAuth 2.0 JWT bearer grant (RFC 7523) as Google's token endpoint serves it:
 *   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>`. The assertion must be signed
 *   with the key above (checked against its public key), `iss` the account's email, `aud` Google's token URL (what
 *   google-auth-library always signs) or this endpoint's own URL (what libraries that follow `token_uri` sign),
 *   `scope` non-empty, `iat`/`exp` at most an hour apart and current. The answer is
 *   `{access_token, expires_in, token_type: "Bearer"}`; failures are Google's `{error, error_description}` 400s.
 * - Every model call must carry `Authorization: Bearer <token>` issued here and not yet expired (the simulator's
 *   clock, SimulatorOptions.now) with the cloud-platform scope; else Google's 401 UNAUTHENTICATED (or 403
 *   PERMISSION_DENIED for a token without the scope).
 */

export const TOKEN_PATH = '/token';
export const SERVICE_ACCOUNT_PATH = '/service-account.json';
export const SIM_PROJECT = 'switchboard-sim';
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const DEFAULT_LIFETIME_S = 3600;
/** Google refuses assertions that live longer than an hour. */
const MAX_ASSERTION_S = 3600;
/** Clock difference tolerated on `iat`. */
const SKEW_S = 300;
const MAX_TOKENS = 10_000;

interface Account {
  email: string;
  keyId: string;
  clientId: string;
  privateKeyPem: string;
  publicKey: KeyObject;
}

interface Issued {
  expiresAt: number;
  scopes: Set<string>;
}

interface AuthState {
  account: Promise<Account>;
  tokens: Map<string, Issued>;
}

/** Per simulator instance, keyed by its PrefixCache (the one per-simulator object a handler sees). */
const STATES = new WeakMap<PrefixCache, AuthState>();

const generate = promisify(generateKeyPair);

async function newAccount(): Promise<Account> {
  const { publicKey, privateKey } = await generate('rsa', { modulusLength: 2048 });
  return {
    email: `simulator@${SIM_PROJECT}.iam.gserviceaccount.com`,
    keyId: randomBytes(20).toString('hex'),
    clientId: String(100_000_000_000_000_000_000n + BigInt(`0x${randomBytes(8).toString('hex')}`)),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey,
  };
}

function stateOf(ctx: SimContext): AuthState {
  let state = STATES.get(ctx.prefixCache);
  if (!state) {
    // Made on first use: most simulators never see a Vertex client, and RSA generation costs tens of ms.
    state = { account: newAccount(), tokens: new Map() };
    STATES.set(ctx.prefixCache, state);
  }
  return state;
}

const nowOf = (ctx: SimContext): number => (ctx.settings?.now ?? Date.now)();

function ownTokenUrl(ctx: SimContext): string {
  return `http://${ctx.req.headers.host ?? '127.0.0.1'}${TOKEN_PATH}`;
}

/** The key file a client loads (google-auth-library's `credentials`/`keyFilename`, GOOGLE_APPLICATION_CREDENTIALS). */
export async function sendServiceAccount(ctx: SimContext): Promise<void> {
  const a = await stateOf(ctx).account;
  const encodedEmail = encodeURIComponent(a.email);
  ctx.sendJson(200, {
    type: 'service_account',
    project_id: SIM_PROJECT,
    private_key_id: a.keyId,
    private_key: a.privateKeyPem,
    client_email: a.email,
    client_id: a.clientId,
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: ownTokenUrl(ctx),
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodedEmail}`,
    universe_domain: 'googleapis.com',
  });
}

/**
 * Writes a running simulator's key file to `file` (owner-only): what a provider's `credentials.keyFile` or
 * GOOGLE_APPLICATION_CREDENTIALS then names (e.g. when wiring a `vertex` provider at `switchboard simulate`).
 */
export async function saveServiceAccount(simUrl: string, file: string): Promise<void> {
  const res = await fetch(`${simUrl.replace(/\/+$/, '')}${SERVICE_ACCOUNT_PATH}`);
  if (!res.ok) throw new Error(`${simUrl} gave no service account (HTTP ${res.status}): is it a vertex simulator?`);
  await writeFile(file, await res.text(), { mode: 0o600 });
}

function oauthError(ctx: SimContext, error: string, description: string, status = 400): void {
  ctx.sendJson(status, { error, error_description: description }, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const json: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function scopesOf(scope: unknown): string[] {
  if (typeof scope === 'string') return scope.split(/\s+/).filter(Boolean);
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === 'string' && s !== '');
  return [];
}

const BAD_TIMES =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';

/** `POST /token`: the JWT bearer grant. */
export async function handleToken(ctx: SimContext): Promise<void> {
  const form = ctx.req.form;
  if (!form) return oauthError(ctx, 'invalid_request', 'Expected an application/x-www-form-urlencoded body.');
  const grant = form.get('grant_type');
  if (grant === null) return oauthError(ctx, 'invalid_request', 'Missing required parameter: grant_type');
  if (grant !== JWT_BEARER) return oauthError(ctx, 'unsupported_grant_type', `Invalid grant_type: ${grant}`);
  const assertion = form.get('assertion');
  if (!assertion) return oauthError(ctx, 'invalid_request', 'Missing required parameter: assertion');

  const segments = assertion.split('.');
  const header = segments.length === 3 ? decodeSegment(segments[0]!) : undefined;
  const claims = segments.length === 3 ? decodeSegment(segments[1]!) : undefined;
  if (!header || !claims) return oauthError(ctx, 'invalid_grant', 'Invalid JWT: the assertion is not a JSON Web Token.');
  if (header.alg !== 'RS256') return oauthError(ctx, 'invalid_grant', 'Invalid JWT Signature.');

  const state = stateOf(ctx);
  const account = await state.account;
  if (claims.iss !== account.email) return oauthError(ctx, 'invalid_grant', 'Invalid grant: account not found');
  const signed = Buffer.from(`${segments[0]!}.${segments[1]!}`);
  const signature = Buffer.from(segments[2]!, 'base64url');
  if (!verify('sha256', signed, account.publicKey, signature)) return oauthError(ctx, 'invalid_grant', 'Invalid JWT Signature.');

  if (claims.aud !== GOOGLE_TOKEN_URL && claims.aud !== ownTokenUrl(ctx)) {
    return oauthError(ctx, 'invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${GOOGLE_TOKEN_URL}`);
  }
  const nowS = Math.floor(nowOf(ctx) / 1000);
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= iat || exp - iat > MAX_ASSERTION_S || iat > nowS + SKEW_S || exp <= nowS) {
    return oauthError(ctx, 'invalid_grant', BAD_TIMES);
  }
  const scopes = scopesOf(claims.scope);
  if (scopes.length === 0) return oauthError(ctx, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');

  const lifetimeS = ctx.settings?.tokenLifetimeS ?? DEFAULT_LIFETIME_S;
  const token = `ya29.c.${randomBytes(48).toString('base64url')}`;
  prune(state, nowOf(ctx));
  state.tokens.set(token, { expiresAt: nowOf(ctx) + lifetimeS * 1000, scopes: new Set(scopes) });
  ctx.sendJson(200, { access_token: token, expires_in: lifetimeS, token_type: 'Bearer' }, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
}

function prune(state: AuthState, now: number): void {
  if (state.tokens.size < MAX_TOKENS) return;
  for (const [t, issued] of state.tokens) if (issued.expiresAt <= now) state.tokens.delete(t);
  if (state.tokens.size >= MAX_TOKENS) state.tokens.clear();
}

/** Why a model call's credentials are refused: Google's ErrorInfo reason and the status it comes with. */
export interface BearerRefusal {
  status: 401 | 403;
  reason: string;
  message: string;
}

const INVALID_CREDENTIALS =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const MISSING_CREDENTIALS =
  'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

/** Undefined when the request carries a live token with the cloud-platform scope. */
export function bearerRefusal(ctx: SimContext): BearerRefusal | undefined {
  const header = ctx.req.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) return { status: 401, reason: 'CREDENTIALS_MISSING', message: MISSING_CREDENTIALS };
  const state = stateOf(ctx);
  const issued = state.tokens.get(m[1]!);
  if (!issued) return { status: 401, reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED', message: INVALID_CREDENTIALS };
  if (issued.expiresAt <= nowOf(ctx)) {
    state.tokens.delete(m[1]!);
    return { status: 401, reason: 'ACCESS_TOKEN_EXPIRED', message: INVALID_CREDENTIALS };
  }
  if (!issued.scopes.has(CLOUD_PLATFORM_SCOPE)) {
    return { status: 403, reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT', message: 'Request had insufficient authentication scopes.' };
  }
  return undefined;
}

/** The bearer token a request carries (SimulatorOptions.apiKey is compared with it). */
export function bearerOf(authorization: string | string[] | undefined): string | undefined {
  return typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] : undefined;
}
