import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { SimAwsCredential, SimRequest } from './protocol.ts';

/**
 * AWS Signature Version 4 verification for the Bedrock simulator, on node:crypto and the published algorithm
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html), independent of @smithy/signature-v4:
 * the canonical request (method, the path normalized and URI-encoded once more, as non-S3 services do, the sorted
 * query, the signed headers trimmed and lowercased, the body's SHA-256), the string to sign over the credential scope
 * `<date>/<region>/bedrock/aws4_request`, the derived signing key, and a constant-time compare.
 */

/**
 * The key pair accepted when a simulator is given none: AWS's documented example keys, so
 * `AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY` works
 * against `switchboard simulate --protocol bedrock` out of the box.
 */
export const DEFAULT_AWS_CREDENTIALS: readonly SimAwsCredential[] = [
  { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
];

const SERVICE = 'bedrock';
const ALGORITHM = 'AWS4-HMAC-SHA256';
/** How far x-amz-date may be from the server's clock. */
const MAX_SKEW_MS = 5 * 60_000;

/** Why a request was refused: the AWS error type and message, always a 403 (as the service answers). */
export interface SigV4Refusal {
  type: string;
  message: string;
}

const refuse = (type: string, message: string): SigV4Refusal => ({ type, message });

const INVALID_TOKEN = 'The security token included in the request is invalid.';
const BAD_SIGNATURE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** RFC 3986 percent-encoding of every byte but the unreserved ones (A-Z a-z 0-9 - _ . ~), hex in upper case. */
export function uriEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The canonical URI of a path as sent: dot segments resolved, empty ones dropped, each segment encoded again. */
export function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const s of rawPath.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return `/${segments.map(uriEncode).join('/')}${trailing}`;
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

/** The canonical query: every parameter decoded, encoded again, sorted by name then value. */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs = rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const [k, v] = eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)];
      return [uriEncode(decode(k)), uriEncode(decode(v))] as const;
    })
    // The signature parameter of a presigned URL is not part of what it signs.
    .filter(([k]) => k !== 'X-Amz-Signature');
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const joined = Array.isArray(v) ? v.join(',') : v;
  return joined.trim().replace(/\s+/g, ' ');
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** `20240131T235959Z` → epoch ms, or NaN. */
function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) : Number.NaN;
}

const amzDateOf = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

export interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminal: string;
  signedHeaders: string[];
  signature: string;
}

/** The fields of `AWS4-HMAC-SHA256 Credential=…/…, SignedHeaders=…, Signature=…`; undefined when malformed. */
export function parseAuthorization(value: string | undefined): ParsedAuthorization | undefined {
  if (value === undefined || !value.startsWith(`${ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential?.length !== 5 || !signedHeaders || !signature) return undefined;
  const [accessKeyId, date, region, service, terminal] = credential as [string, string, string, string, string];
  return { accessKeyId, date, region, service, terminal, signedHeaders: signedHeaders.split(';'), signature };
}

/**
 * Checks a request's SigV4 signature against the accepted keys: undefined when it is valid, else why not, in the
 * service's own words (UnrecognizedClientException for an unknown key or session token, ExpiredTokenException for a
 * token past its expiry, InvalidSignatureException for a signature that does not match or a date off by more than
 * five minutes, IncompleteSignatureException / MissingAuthenticationTokenException for a malformed or absent one).
 */
export function verifySigV4(req: SimRequest, accepted: readonly SimAwsCredential[], now: number): SigV4Refusal | undefined {
  const header = req.headers.authorization;
  if (header === undefined || header === '') return refuse('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const auth = parseAuthorization(header);
  if (!auth) {
    return refuse('IncompleteSignatureException', `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=${header.split(' ')[0]}`);
  }
  const amzDate = headerValue(req.headers['x-amz-date']);
  const signedAt = amzDate === undefined ? Number.NaN : parseAmzDate(amzDate);
  if (Number.isNaN(signedAt)) return refuse('IncompleteSignatureException', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  if (signedAt < now - MAX_SKEW_MS) {
    return refuse('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier than ${amzDateOf(now - MAX_SKEW_MS)} (${amzDateOf(now)} - 5 min.)`);
  }
  if (signedAt > now + MAX_SKEW_MS) {
    return refuse('InvalidSignatureException', `Signature not yet current: ${amzDate} is still later than ${amzDateOf(now + MAX_SKEW_MS)} (${amzDateOf(now)} + 5 min.)`);
  }
  if (auth.service !== SERVICE) return refuse('InvalidSignatureException', `Credential should be scoped to correct service: '${SERVICE}'.`);
  if (auth.terminal !== 'aws4_request' || auth.date !== amzDate!.slice(0, 8)) {
    return refuse('InvalidSignatureException', `Credential should be scoped to a valid date and terminated by 'aws4_request'.`);
  }
  const key = accepted.find((c) => c.accessKeyId === auth.accessKeyId);
  if (!key) return refuse('UnrecognizedClientException', INVALID_TOKEN);
  const token = headerValue(req.headers['x-amz-security-token']);
  if ((key.sessionToken ?? '') !== (token ?? '')) return refuse('UnrecognizedClientException', INVALID_TOKEN);
  if (key.expiresAt !== undefined && key.expiresAt <= now) return refuse('ExpiredTokenException', 'The security token included in the request is expired');
  if (!auth.signedHeaders.includes('host')) return refuse('InvalidSignatureException', "'Host' must be a 'SignedHeader' in the AWS Authorization.");

  const headerLines: string[] = [];
  for (const name of auth.signedHeaders) {
    const value = headerValue(req.headers[name]);
    if (value === undefined) return refuse('InvalidSignatureException', BAD_SIGNATURE);
    headerLines.push(`${name}:${value}\n`);
  }
  const target = req.rawUrl ?? req.path;
  const q = target.indexOf('?');
  const canonical = [
    req.method,
    canonicalPath(q < 0 ? target : target.slice(0, q)),
    canonicalQuery(q < 0 ? '' : target.slice(q + 1)),
    headerLines.join(''),
    auth.signedHeaders.join(';'),
    // The hash of what arrived: a body changed on the way (or a false x-amz-content-sha256) fails the compare.
    sha256Hex(req.rawBody ?? Buffer.alloc(0)),
  ].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${key.secretAccessKey}`, auth.date), auth.region), auth.service), 'aws4_request');
  const want = Buffer.from(createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex'));
  const got = Buffer.from(auth.signature);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return refuse('InvalidSignatureException', BAD_SIGNATURE);
  return undefined;
}
