import { createHash, randomBytes } from 'node:crypto';

/** 32 random bytes: unguessable, and long enough for the config schema's 16-character minimum. */
export function newApiKeySecret(): string {
  return `sk-sb-${randomBytes(32).toString('base64url')}`;
}

export function newApiKeyId(): string {
  return `key_${randomBytes(12).toString('hex')}`;
}

/** SHA-256 hex of the secret: the same digest the authenticator computes for keys from config. */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** What a listing may show of a secret: its fixed prefix and four random characters. */
export function secretPrefix(secret: string): string {
  return secret.slice(0, 10);
}
