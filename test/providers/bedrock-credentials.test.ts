/**
 * Where the Bedrock adapter's AWS keys come from, each checked by the simulator's SigV4 verification: the
 * environment and a named profile of the shared files through the default chain (no keys in config), renewal of
 * expiring keys before they lapse, and a fresh load after AWS calls the keys expired.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collectStream, type ChatRequest } from '../../src/core/index.ts';
import { createAwsCredentialSource, type AwsCredentials } from '../../src/providers/bedrock/credentials.ts';
import { createBedrockAdapter, type BedrockAdapterDeps } from '../../src/providers/bedrock/index.ts';
import type { AdapterConfig, CallOptions } from '../../src/providers/spec.ts';
import type { SimRequest } from '../../src/simulator/protocol.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { rejection } from '../helpers/stream-contract.ts';

const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000, totalMs: 10000 };
const HOUR = 3_600_000;
const ENV_KEYS = { accessKeyId: 'ASIAFROMENVIRONMENT1', secretAccessKey: 'env-secret-key-000000000000000000000000001', sessionToken: 'env-session-token-0001' };
const PROFILE_KEYS = { accessKeyId: 'AKIAFROMPROFILEFILE1', secretAccessKey: 'profile-secret-key-0000000000000000000001' };
const FIRST = { accessKeyId: 'ASIAROTATINGKEY00001', secretAccessKey: 'rotating-secret-key-00000000000000000001', sessionToken: 'rotating-token-1' };
const SECOND = { accessKeyId: 'ASIAROTATINGKEY00002', secretAccessKey: 'rotating-secret-key-00000000000000000002', sessionToken: 'rotating-token-2' };
const EXPIRED = { accessKeyId: 'ASIAEXPIREDKEY000001', secretAccessKey: 'expired-secret-key-000000000000000000001', sessionToken: 'expired-token-1' };

const AWS_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
];

let sim: Simulator;
let seen: SimRequest[] = [];
let saved: Record<string, string | undefined> = {};
let dir: string;

const req: ChatRequest = { messages: [{ role: 'user', content: 'hello' }] };
const opts: CallOptions = { model: 'anthropic.claude-haiku-4-5-20251001-v1:0', capabilities: [] };
const config = (extra: Partial<AdapterConfig> = {}): AdapterConfig => ({ id: 'aws', baseUrl: sim.url, region: 'eu-west-1', timeouts: TIMEOUTS, ...extra });
const signedBy = () => seen.map((r) => /Credential=([^/]+)\//.exec(String(r.headers.authorization))?.[1]);

beforeAll(async () => {
  sim = await startSimulator({
    protocol: 'bedrock',
    awsCredentials: [
      { ...ENV_KEYS, expiresAt: Date.now() + HOUR },
      PROFILE_KEYS,
      { ...FIRST, expiresAt: Date.now() + HOUR },
      { ...SECOND, expiresAt: Date.now() + HOUR },
      { ...EXPIRED, expiresAt: Date.now() - 1000 },
    ],
  });
  sim.events.on('request', (r: SimRequest) => seen.push(r));
  dir = mkdtempSync(join(tmpdir(), 'bedrock-creds-'));
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  // The test process's own AWS settings must not leak into (or out of) these tests.
  saved = Object.fromEntries(AWS_ENV.map((k) => [k, process.env[k]]));
  for (const k of AWS_ENV) delete process.env[k];
  // Never wait for an instance metadata service that is not there.
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  // No shared files unless a test writes them.
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'none-credentials');
  process.env.AWS_CONFIG_FILE = join(dir, 'none-config');
});
afterEach(() => {
  for (const k of AWS_ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe('the default chain (no keys in config)', () => {
  it('takes keys from the environment, session token included', async () => {
    process.env.AWS_ACCESS_KEY_ID = ENV_KEYS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = ENV_KEYS.secretAccessKey;
    process.env.AWS_SESSION_TOKEN = ENV_KEYS.sessionToken;
    const adapter = createBedrockAdapter(config());
    try {
      const r = await adapter.generate(req, opts);
      expect(r.text).toMatch(/\w+/);
      expect((await collectStream(adapter.stream(req, opts))).text).toBe(r.text);
      expect(signedBy()).toEqual([ENV_KEYS.accessKeyId, ENV_KEYS.accessKeyId]);
      expect(seen[0]!.headers['x-amz-security-token']).toBe(ENV_KEYS.sessionToken);
      expect(String(seen[0]!.headers.authorization)).toContain('/eu-west-1/bedrock/aws4_request');
    } finally {
      await adapter.close();
    }
  });

  it('takes keys from a named profile of the shared credentials and config files', async () => {
    const credentialsFile = join(dir, 'credentials');
    const configFile = join(dir, 'config');
    writeFileSync(credentialsFile, `[default]\naws_access_key_id = AKIADEFAULTPROFILE01\naws_secret_access_key = not-this-one\n\n[team-x]\naws_access_key_id = ${PROFILE_KEYS.accessKeyId}\naws_secret_access_key = ${PROFILE_KEYS.secretAccessKey}\n`);
    writeFileSync(configFile, '[profile team-x]\nregion = eu-west-1\n');
    process.env.AWS_SHARED_CREDENTIALS_FILE = credentialsFile;
    process.env.AWS_CONFIG_FILE = configFile;
    const adapter = createBedrockAdapter(config({ credentials: { type: 'aws', profile: 'team-x' } }));
    try {
      await adapter.generate(req, opts);
      expect(signedBy()).toEqual([PROFILE_KEYS.accessKeyId]);
      expect(seen[0]!.headers['x-amz-security-token']).toBeUndefined();
    } finally {
      await adapter.close();
    }
  });

  it('no keys anywhere → provider_auth, without a request', async () => {
    const adapter = createBedrockAdapter(config());
    try {
      const e = await rejection(adapter.generate(req, opts));
      expect(e.kind).toBe('provider_auth');
      expect(e.message).toMatch(/^aws: no AWS credentials could be loaded/);
      expect(seen).toHaveLength(0);
    } finally {
      await adapter.close();
    }
  });
});

describe('renewal', () => {
  /** A loader issuing FIRST then SECOND, each valid `lifetimeMs` from the fake clock's now; counts its calls. */
  function rotating(clock: { now(): number }, lifetimeMs: number, sets: AwsCredentials[] = [FIRST, SECOND]) {
    const loader = {
      loads: 0,
      load: async (): Promise<AwsCredentials> => {
        const keys = sets[Math.min(loader.loads, sets.length - 1)]!;
        loader.loads++;
        return { ...keys, expiration: new Date(clock.now() + lifetimeMs) };
      },
    };
    return loader;
  }

  it('renews expiring keys before they lapse: every request succeeds and the loader ran twice', async () => {
    const clock = createFakeClock(1_700_000_000_000);
    const loader = rotating(clock, 15 * 60_000);
    const deps: BedrockAdapterDeps = { credentials: createAwsCredentialSource({ provider: 'aws', region: 'eu-west-1', now: clock.now, load: loader.load }) };
    const adapter = createBedrockAdapter(config(), deps);
    try {
      await adapter.generate(req, opts);
      clock.advance(5 * 60_000);
      await adapter.generate(req, opts);
      // Inside the five-minute margin: this request still uses the valid keys while new ones load behind it.
      clock.advance(6 * 60_000);
      await adapter.generate(req, opts);
      await collectStream(adapter.stream(req, opts));
      clock.advance(60_000);
      await adapter.generate(req, opts);
      expect(loader.loads).toBe(2);
      expect(signedBy()).toEqual([FIRST.accessKeyId, FIRST.accessKeyId, FIRST.accessKeyId, SECOND.accessKeyId, SECOND.accessKeyId]);
      expect(sim.stats.requests).toBeGreaterThanOrEqual(5);
    } finally {
      await adapter.close();
    }
  });

  it('loads afresh once keys have expired, before sending', async () => {
    const clock = createFakeClock(1_700_000_000_000);
    const loader = rotating(clock, 15 * 60_000);
    const adapter = createBedrockAdapter(config(), { credentials: createAwsCredentialSource({ provider: 'aws', region: 'eu-west-1', now: clock.now, load: loader.load }) });
    try {
      await adapter.generate(req, opts);
      clock.advance(16 * 60_000);
      await adapter.generate(req, opts);
      expect(loader.loads).toBe(2);
      expect(signedBy()).toEqual([FIRST.accessKeyId, SECOND.accessKeyId]);
    } finally {
      await adapter.close();
    }
  });

  it('ExpiredTokenException drops the keys and retries once with fresh ones (non-streamed and streamed)', async () => {
    const clock = createFakeClock(1_700_000_000_000);
    for (const mode of ['generate', 'stream'] as const) {
      seen = [];
      // The loader thinks EXPIRED is good for an hour; AWS disagrees.
      const loader = rotating(clock, HOUR, [EXPIRED, FIRST]);
      const adapter = createBedrockAdapter(config(), { credentials: createAwsCredentialSource({ provider: 'aws', region: 'eu-west-1', now: clock.now, load: loader.load }) });
      try {
        const r = mode === 'generate' ? await adapter.generate(req, opts) : await collectStream(adapter.stream(req, opts));
        expect(r.text).toMatch(/\w+/);
        expect(loader.loads).toBe(2);
        expect(signedBy()).toEqual([EXPIRED.accessKeyId, FIRST.accessKeyId]);
      } finally {
        await adapter.close();
      }
    }
  });

  it('static keys from config that AWS calls expired fail once, as provider_auth, with no secret in the message', async () => {
    const adapter = createBedrockAdapter(config({ credentials: { type: 'aws', ...EXPIRED } }));
    try {
      const e = await rejection(adapter.generate(req, opts));
      expect(e).toMatchObject({ kind: 'provider_auth', status: 403, providerCode: 'ExpiredTokenException' });
      expect(e.message).toMatch(/expired/);
      expect(e.message).not.toContain(EXPIRED.secretAccessKey);
      expect(e.message).not.toContain(EXPIRED.sessionToken);
      expect(seen).toHaveLength(1);
    } finally {
      await adapter.close();
    }
  });
});
