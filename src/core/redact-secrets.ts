/**
 * Masking of credentials in text that came from outside (a provider's error body, a transport error).
 * Upstreams and proxies sometimes quote the request back — `Incorrect API key provided: Bearer sk-…`,
 * a dump of the request headers, a URL with `?key=` — and that text must not reach a client, a log or a
 * trace. Two layers: the configured secrets, matched by value wherever they appear (also URL- and
 * JSON-escaped), and credential-shaped text in general, so a key the config does not know (another
 * deployment's, a proxy's) is masked too.
 */

export const REDACTED = '[REDACTED]';

/** Configured values shorter than this are not masked by value: they would mask ordinary words; real keys are long. */
export const MIN_SECRET_LENGTH = 8;

/** Masks secrets in one piece of text; pure and total (never throws). */
export type Redactor = (text: string) => string;

// A value after a credential's name: an optional auth scheme, then everything up to a delimiter. `[`/`]`
// are delimiters so an already masked value is not masked again into `[REDACTED]]`.
const VALUE = String.raw`(?:(?:Bearer|Basic)\s+)?[^\s"'\`,;&<>(){}[\]]+`;

/** Header, JSON and key=value names whose value is a credential: `Authorization: …`, `"x-api-key":"…"`, `password=…`. */
const NAMED = new RegExp(
  String.raw`(?<![\w-])(["']?)(proxy-authorization|authorization|x-api-key|x-goog-api-key|api-key|api_key|apikey|x-auth-token|access_token|refresh_token|client_secret|password|passwd|secret|set-cookie|cookie)\1(\s*[:=]\s*)(["']?)(?!(?:(?:Bearer|Basic)\s+)?\[REDACTED\])${VALUE}`,
  'gi',
);

/** Query parameters that carry a credential (`?key=…` is how Gemini takes its key). */
const QUERY = /(?<![\w-])(key|token|sig|signature|auth)=(?!\[REDACTED\])[^\s"'`&#,;<>[\]]+/gi;

/** An Authorization value on its own, wherever it appears. */
const SCHEME = /\b([Bb]earer|BEARER|Basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=:*-]{3,}/g;

/** Key formats that are credentials by their shape: OpenAI-style `sk-…` (also `sk-ant-…`, `sk-proj-…`), Google `AIza…`. */
const KEY_SHAPES = /\b(?:sk-[A-Za-z0-9_*-]{6,}|AIza[0-9A-Za-z_-]{20,})/g;

/** The password part of a URL's user info: `https://user:pass@host`. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@"'`]*):([^\s/@"'`]+)@/gi;

/**
 * A redactor for the given secrets (provider keys, credential header values, the gateway's own API keys).
 * Built once from config; values shorter than MIN_SECRET_LENGTH and duplicates are dropped.
 */
export function createRedactor(secrets: Iterable<string | undefined> = []): Redactor {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s === undefined || s.length < MIN_SECRET_LENGTH) continue;
    forms.add(s);
    // As it would appear in a quoted URL or inside a JSON string.
    forms.add(encodeURIComponent(s));
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  // Longest first, so a secret that contains another is masked whole.
  const values = [...forms].sort((a, b) => b.length - a.length);
  return (text: string): string => {
    if (typeof text !== 'string' || text === '') return text;
    let out = text;
    for (const v of values) if (out.includes(v)) out = out.replaceAll(v, REDACTED);
    return out
      .replace(NAMED, (_m, q1: string, name: string, sep: string, q2: string) => `${q1}${name}${q1}${sep}${q2}${REDACTED}`)
      .replace(QUERY, (_m, name: string) => `${name}=${REDACTED}`)
      .replace(SCHEME, (_m, scheme: string) => `${scheme} ${REDACTED}`)
      .replace(KEY_SHAPES, REDACTED)
      .replace(URL_USERINFO, (_m, prefix: string) => `${prefix}:${REDACTED}@`);
  };
}

/** One-off form of createRedactor, for callers that redact a single text. */
export function redactSecrets(text: string, secrets: Iterable<string | undefined> = []): string {
  return createRedactor(secrets)(text);
}
