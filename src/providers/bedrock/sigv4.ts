import type { OutgoingRequest, RequestAuth } from '../shared/provider-call.ts';
import type { AwsCredentialSource } from './credentials.ts';

export interface SigV4Options {
  region: string;
  /** The signing service: `bedrock` for the runtime API. */
  service?: string | undefined;
  credentials: AwsCredentialSource;
  /** The signing date's clock (x-amz-date); Date.now by default. */
  now?: (() => number) | undefined;
}

interface Signer {
  sign(
    req: { method: string; protocol: string; hostname: string; port?: number | undefined; path: string; query: Record<string, string | string[]>; headers: Record<string, string>; body?: string | undefined },
    opts: { signingDate: Date },
  ): Promise<{ headers: Record<string, string> }>;
}

function queryOf(search: string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!search) return out;
  for (const [k, v] of new URLSearchParams(search)) {
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

/**
 * AWS Signature Version 4 for every request of a Bedrock deployment, through the call layer's `auth` hook: it signs
 * the exact method, path (the SDK double-encodes it, as non-S3 services want), query, host, headers and body that go
 * out. @smithy/signature-v4 and @smithy/hash-node are loaded on first use (a gateway without Bedrock never loads them).
 * The returned headers are `authorization`, `x-amz-date`, `x-amz-content-sha256` and, for temporary keys,
 * `x-amz-security-token`; `host` is left to the HTTP client, which sends the value signed here.
 */
export function createSigV4Auth(opts: SigV4Options): RequestAuth {
  const now = opts.now ?? Date.now;
  let signer: Promise<Signer> | undefined;
  const load = (): Promise<Signer> =>
    (signer ??= (async () => {
      const [{ SignatureV4 }, { Hash }] = await Promise.all([import('@smithy/signature-v4'), import('@smithy/hash-node')]);
      return new SignatureV4({
        service: opts.service ?? 'bedrock',
        region: opts.region,
        credentials: () => opts.credentials.get(),
        sha256: Hash.bind(null, 'sha256'),
        uriEscapePath: true,
      }) as unknown as Signer;
    })());

  return async (req: OutgoingRequest) => {
    const s = await load();
    const url = new URL(req.origin);
    const q = req.path.indexOf('?');
    const path = q < 0 ? req.path : req.path.slice(0, q);
    const signed = await s.sign(
      {
        method: req.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port !== '' && { port: Number(url.port) }),
        path,
        query: queryOf(q < 0 ? undefined : req.path.slice(q + 1)),
        // The Host header undici will send: the origin's host, with its port unless it is the scheme's default.
        headers: { ...req.headers, host: url.host },
        body: req.body,
      },
      { signingDate: new Date(now()) },
    );
    const { host: _host, ...added } = signed.headers;
    return added;
  };
}
