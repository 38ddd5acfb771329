import { GatewayError } from '../../core/index.ts';
import type { CredentialsConfig } from '../../config/config-schema.ts';
import { createCredentialCache, type CredentialCache } from '../shared/credential-cache.ts';

/** A set of AWS keys, as the SigV4 signer wants them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  /** When temporary keys lapse; absent for long-term keys. */
  expiration?: Date | undefined;
}

/** Where a Bedrock adapter gets its keys: cached, renewed before they expire, forgotten when AWS refuses them. */
export interface AwsCredentialSource {
  get(): Promise<AwsCredentials>;
  /** AWS said the keys are expired or unknown: the next `get` loads anew. */
  invalidate(): void;
  /** False for static keys from config: loading again gives the same keys, so retrying after a refusal is pointless. */
  readonly renewable: boolean;
}

export interface AwsCredentialOptions {
  /** The adapter id, for error messages. */
  provider: string;
  /** The region for the chain's own calls (STS role assumption). */
  region: string;
  credentials?: CredentialsConfig | undefined;
  /** The cache's clock (when to renew); Date.now by default. */
  now?: (() => number) | undefined;
  /** Renew this long before expiry (default: the shared cache's 5 minutes). */
  refreshMarginMs?: number | undefined;
  /** Test seam: loads keys instead of the static keys or the default chain (counts loads, issues short-lived keys). */
  load?: (() => Promise<AwsCredentials>) | undefined;
}

type ChainProvider = (options?: { forceRefresh?: boolean }) => Promise<AwsCredentials>;

/** What an SDK error may say without a secret: its class and message, cut short (they name files and profiles). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err).slice(0, 200);
  const text = `${err.name}: ${err.message}`.replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/**
 * The credentials of one Bedrock deployment: static keys from config when given, else the AWS default chain
 * (`fromNodeProviderChain`: environment, shared config and credentials files with `profile`, web identity,
 * container and instance metadata), loaded with a dynamic import on first use so a gateway without Bedrock never
 * loads the AWS SDK. Keys are held in a credential cache keyed to their `expiration` and renewed before it.
 */
export function createAwsCredentialSource(opts: AwsCredentialOptions): AwsCredentialSource {
  const { provider } = opts;
  const cfg = opts.credentials?.type === 'aws' ? opts.credentials : undefined;
  const staticKeys =
    cfg?.accessKeyId !== undefined && cfg.secretAccessKey !== undefined
      ? { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey, ...(cfg.sessionToken !== undefined && { sessionToken: cfg.sessionToken }) }
      : undefined;

  let chain: Promise<ChainProvider> | undefined;
  const fromChain = async (): Promise<AwsCredentials> => {
    chain ??= import('@aws-sdk/credential-providers').then(
      ({ fromNodeProviderChain }) =>
        // ignoreCache: a reload after AWS refused the keys reads the shared files again (rotated keys).
        fromNodeProviderChain({ ...(cfg?.profile !== undefined && { profile: cfg.profile }), ignoreCache: true, clientConfig: { region: opts.region } }) as ChainProvider,
    );
    // Our cache decides when keys are stale; the chain's own memo must not hand back the ones we are replacing.
    return (await chain)({ forceRefresh: true });
  };
  const load = opts.load ?? (staticKeys ? () => Promise.resolve(staticKeys) : fromChain);

  const cache: CredentialCache<AwsCredentials> = createCredentialCache({
    now: opts.now,
    ...(opts.refreshMarginMs !== undefined && { refreshMarginMs: opts.refreshMarginMs }),
    load: async () => {
      let keys: AwsCredentials;
      try {
        keys = await load();
      } catch (err) {
        if (err instanceof GatewayError) throw err;
        throw new GatewayError('provider_auth', `${provider}: no AWS credentials could be loaded (${describe(err)})`, { provider, cause: err });
      }
      if (typeof keys?.accessKeyId !== 'string' || keys.accessKeyId === '' || typeof keys.secretAccessKey !== 'string' || keys.secretAccessKey === '') {
        throw new GatewayError('provider_auth', `${provider}: the AWS credential chain gave no access key`, { provider });
      }
      return { value: keys, expiresAt: keys.expiration?.getTime() };
    },
  });
  return { get: () => cache.get(), invalidate: () => cache.invalidate(), renewable: opts.load !== undefined || staticKeys === undefined };
}
