import type { CredentialsConfig } from '../../config/config-schema.ts';
import { GatewayError } from '../../core/index.ts';
import { createCredentialCache } from '../shared/credential-cache.ts';
import type { RequestAuth } from '../shared/provider-call.ts';

type EntraCredentials = Extract<CredentialsConfig, { type: 'entra' }>;

/** Azure OpenAI's and Azure AI Foundry's token audience. */
export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

/** The part of @azure/identity's TokenCredential we use; tests may hand in their own. */
export interface TokenSource {
  getToken(scope: string): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

export interface EntraAuthDeps {
  now?: (() => number) | undefined;
  /** Replaces the @azure/identity credential (tests). */
  tokenSource?: TokenSource | undefined;
}

/**
 * Microsoft Entra ID tokens for Azure OpenAI and AI Foundry, as `authorization: Bearer`. A client secret when
 * the config gives one; otherwise DefaultAzureCredential, which tries the environment (AZURE_CLIENT_ID /
 * AZURE_TENANT_ID / AZURE_CLIENT_SECRET), workload identity (AZURE_FEDERATED_TOKEN_FILE on Kubernetes) and the
 * managed identity, in that order. @azure/identity is loaded on the first call, so deployments that do not use
 * Entra ID never load it. Tokens are kept until five minutes before expiry and never logged.
 */
export function createEntraAuth(provider: string, creds: EntraCredentials, deps: EntraAuthDeps = {}): RequestAuth {
  const scope = creds.scope ?? COGNITIVE_SERVICES_SCOPE;
  let source: Promise<TokenSource> | undefined;
  const sourceOf = (): Promise<TokenSource> => (source ??= deps.tokenSource ? Promise.resolve(deps.tokenSource) : identityCredential(creds));

  const tokens = createCredentialCache<string>({
    now: deps.now,
    load: async () => {
      let got: Awaited<ReturnType<TokenSource['getToken']>>;
      try {
        got = await (await sourceOf()).getToken(scope);
      } catch (err) {
        // @azure/identity's messages name the credential types tried, never a secret; the cause stays out of the
        // message all the same, since a token endpoint's error body is not ours to vouch for.
        throw new GatewayError('auth', `${provider}: no Entra ID token for ${scope} (${errorName(err)})`, { provider, retryable: true, cause: err });
      }
      if (!got) throw new GatewayError('auth', `${provider}: no Entra ID token for ${scope}`, { provider, retryable: true });
      return { value: got.token, expiresAt: got.expiresOnTimestamp };
    },
  });

  return async () => ({ authorization: `Bearer ${await tokens.get()}` });
}

async function identityCredential(creds: EntraCredentials): Promise<TokenSource> {
  const identity = await import('@azure/identity');
  if (creds.clientSecret !== undefined) {
    if (creds.tenantId === undefined || creds.clientId === undefined) {
      throw new GatewayError('auth', 'credentials.clientSecret needs tenantId and clientId');
    }
    return new identity.ClientSecretCredential(creds.tenantId, creds.clientId, creds.clientSecret);
  }
  return new identity.DefaultAzureCredential({
    ...(creds.tenantId !== undefined && { tenantId: creds.tenantId }),
    ...(creds.clientId !== undefined && { managedIdentityClientId: creds.clientId, workloadIdentityClientId: creds.clientId }),
  });
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'error';
}
