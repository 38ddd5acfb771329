import { GatewayError, type StreamPart } from '../../core/index.ts';
import type { Redactor } from '../../core/redact-secrets.ts';
import type { AdapterConfig, ProviderAdapter } from '../spec.ts';

/** Names (of headers, URL parameters, option fields) whose values are credentials. */
const CREDENTIAL_NAME = /auth|key|token|secret|password|passwd|cookie|signature|sig$|credential/i;

/**
 * Every credential value in one provider's config: its apiKey, credential-named header values (and the
 * token behind an auth scheme), the user info and credential query parameters of its base URL, and
 * credential-named string fields of its protocol options, at any depth.
 */
export function credentialValues(config: Pick<AdapterConfig, 'apiKey' | 'headers' | 'baseUrl' | 'options' | 'credentials'>): string[] {
  const out: string[] = [];
  const add = (v: string | undefined) => {
    if (!v) return;
    out.push(v);
    const token = /^\s*(?:Bearer|Basic|Token)\s+(\S+)\s*$/i.exec(v)?.[1];
    if (token) out.push(token);
  };
  add(config.apiKey);
  for (const [name, value] of Object.entries(config.headers ?? {})) if (CREDENTIAL_NAME.test(name)) add(value);
  if (config.baseUrl && URL.canParse(config.baseUrl)) {
    const url = new URL(config.baseUrl);
    add(decodeURIComponent(url.username));
    add(decodeURIComponent(url.password));
    for (const [name, value] of url.searchParams) if (CREDENTIAL_NAME.test(name)) add(value);
  }
  const walk = (v: unknown, name: string, depth: number): void => {
    if (typeof v === 'string') {
      if (CREDENTIAL_NAME.test(name)) add(v);
    } else if (v !== null && typeof v === 'object' && depth < 8) {
      for (const [k, child] of Object.entries(v)) walk(child, k, depth + 1);
    }
  };
  walk(config.options, '', 0);
  walk(config.credentials, '', 0);
  return out;
}

/** A copy of an error's cause with every message and stack redacted; code and name kept for diagnosis. */
function redactCause(cause: unknown, redact: Redactor, depth = 0): unknown {
  if (cause === undefined || cause === null) return cause;
  if (typeof cause === 'string') return redact(cause);
  if (!(cause instanceof Error) || depth >= 4) return undefined;
  const inner = redactCause(cause.cause, redact, depth + 1);
  const copy = new Error(redact(cause.message), inner === undefined ? undefined : { cause: inner });
  copy.name = cause.name;
  copy.stack = redact(cause.stack ?? '');
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') Object.assign(copy, { code });
  return copy;
}

/** The GatewayError to let out of the provider layer: same kind and fields, every text redacted. */
export function redactError(err: unknown, redact: Redactor, provider: string): GatewayError {
  const e =
    err instanceof GatewayError ? err : new GatewayError('internal', err instanceof Error ? err.message : String(err), { provider, cause: err });
  const out = new GatewayError(e.kind, redact(e.message), {
    retryable: e.retryable,
    retryAfterMs: e.retryAfterMs,
    provider: e.provider,
    status: e.status,
    providerCode: e.providerCode === undefined ? undefined : redact(e.providerCode),
    param: e.param === undefined ? undefined : redact(e.param),
    partialText: e.partialText,
    cause: redactCause(e.cause, redact),
  });
  out.stack = redact(e.stack ?? '');
  return out;
}

function redactPart(part: StreamPart, redact: Redactor, provider: string): StreamPart {
  return part.type === 'error' ? { ...part, error: redactError(part.error, redact, provider) } : part;
}

/** Passes a stream's parts through untouched except `error` parts, with one `.then` per part. */
function redactStream(source: AsyncIterable<StreamPart>, redact: Redactor, provider: string): AsyncIterable<StreamPart> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      const map = (r: IteratorResult<StreamPart>): IteratorResult<StreamPart> =>
        r.done === true || r.value.type !== 'error' ? r : { done: false, value: redactPart(r.value, redact, provider) };
      const fail = (err: unknown): never => {
        throw redactError(err, redact, provider);
      };
      return {
        next: () => it.next().then(map, fail),
        return: (value?: unknown) => (it.return ? it.return(value).then(map, fail) : Promise.resolve({ done: true as const, value: undefined })),
        ...(it.throw && { throw: (e?: unknown) => it.throw!(e).then(map, fail) }),
      };
    },
  };
}

/**
 * The adapter as the rest of the gateway sees it: every error it raises or streams has its message,
 * cause and stack redacted, so text an upstream quoted back (its key, the request headers) cannot reach
 * a response, a log or a span. This is the one place provider errors leave the provider layer; the
 * happy path costs one promise `.then` per streamed part.
 */
export function withRedaction(adapter: ProviderAdapter, redact: Redactor): ProviderAdapter {
  const provider = adapter.id;
  const wrapped: ProviderAdapter = {
    id: adapter.id,
    protocol: adapter.protocol,
    // A base URL may carry user info or a `?key=`: redacted like everything else shown about a provider.
    baseUrl: redact(adapter.baseUrl),
    async generate(req, opts) {
      try {
        return await adapter.generate(req, opts);
      } catch (err) {
        throw redactError(err, redact, provider);
      }
    },
    stream: (req, opts) => redactStream(adapter.stream(req, opts), redact, provider),
    close: () => adapter.close(),
  };
  const embed = adapter.embed?.bind(adapter);
  if (embed) {
    wrapped.embed = async (req, opts) => {
      try {
        return await embed(req, opts);
      } catch (err) {
        throw redactError(err, redact, provider);
      }
    };
  }
  return wrapped;
}
