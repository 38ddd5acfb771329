import { z } from 'zod';

/**
 * Cloud credentials, by the cloud's own chain. Every field is optional: with none, the chain finds them the
 * way the vendor's SDKs do (environment, shared files, workload identity, instance metadata).
 */
export const CredentialsSchema = z.discriminatedUnion('type', [
  z
    .strictObject({
      /** The AWS default chain (@aws-sdk/credential-providers): env, shared files, web identity, container, instance. */
      type: z.literal('aws'),
      /** A profile of the shared config/credentials files (default: AWS_PROFILE, then `default`). */
      profile: z.string().min(1).optional(),
      /** Static keys (prefer the chain); both or neither. */
      accessKeyId: z.string().min(1).optional(),
      secretAccessKey: z.string().min(1).optional(),
      sessionToken: z.string().min(1).optional(),
    })
    .refine((c) => (c.accessKeyId === undefined) === (c.secretAccessKey === undefined), {
      message: 'accessKeyId and secretAccessKey go together',
      path: ['secretAccessKey'],
    }),
  z.strictObject({
    /** Google application default credentials (google-auth-library): GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata server. */
    type: z.literal('google'),
    /** A service-account (or external-account) JSON file instead of the default lookup. */
    keyFile: z.string().min(1).optional(),
    scopes: z.array(z.string().min(1)).min(1).optional(),
  }),
  z.strictObject({
    /** Microsoft Entra ID (@azure/identity): a client secret when given, else environment, workload and managed identity. */
    type: z.literal('entra'),
    tenantId: z.string().min(1).optional(),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    /** The token's scope (default: Azure OpenAI's and AI Foundry's `https://cognitiveservices.azure.com/.default`). */
    scope: z.string().min(1).optional(),
  }),
]);

/** Which credential type each protocol can use; protocols absent here take `apiKey` only. */
export const CREDENTIAL_TYPES: Partial<Record<string, string>> = { bedrock: 'aws', vertex: 'google', azure: 'entra', 'azure-foundry': 'entra' };
