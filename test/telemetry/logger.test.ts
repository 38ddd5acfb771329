import { execFileSync, spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger, logRequest } from '../../src/telemetry/logger.ts';
import { makeEvent } from '../usage/usage-events.ts';

const PROVIDER_KEY = 'sk-proj-9f8e7d6c5b4a39281706f5e4';
const CLIENT_KEY = 'sbk_live_0123456789abcdef0123';

function capture(secrets?: string[]) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination, secrets }), lines };
}

describe('logger redaction', () => {
  it('never writes an Authorization header or an apiKey field, at any usual depth', () => {
    const { log, lines } = capture();
    log.info({ headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-api-key': PROVIDER_KEY } }, 'a');
    log.info({ req: { headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-goog-api-key': PROVIDER_KEY, cookie: `s=${CLIENT_KEY}` } } }, 'b');
    log.info({ ctx: { req: { headers: { authorization: `Bearer ${CLIENT_KEY}` } } } }, 'c');
    log.info({ apiKey: PROVIDER_KEY, provider: { apiKey: PROVIDER_KEY }, deep: { provider: { apiKey: PROVIDER_KEY } } }, 'd');
    log.info({ providers: [{ id: 'p', apiKey: PROVIDER_KEY }], keys: [{ key: CLIENT_KEY, name: 'web' }] }, 'e');
    log.info({ config: { providers: [{ id: 'p', apiKey: PROVIDER_KEY }], keys: [{ key: CLIENT_KEY }] } }, 'f');
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      expect(line).not.toContain(PROVIDER_KEY);
      expect(line).not.toContain(CLIENT_KEY);
    }
    expect(JSON.parse(lines[0]!).headers.authorization).toBe('[redacted]');
    expect(JSON.parse(lines[4]!).keys[0]).toEqual({ key: '[redacted]', name: 'web' });
  });

  it('masks known secret values wherever they appear, even in messages and unnamed fields', () => {
    const { log, lines } = capture([PROVIDER_KEY, CLIENT_KEY]);
    log.error({ err: new Error(`upstream said: invalid key ${PROVIDER_KEY}`), note: `"${CLIENT_KEY}"` }, `failed with ${CLIENT_KEY}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(PROVIDER_KEY);
    expect(lines[0]).not.toContain(CLIENT_KEY);
    expect(JSON.parse(lines[0]!).msg).toBe('failed with [redacted]');
  });
});

describe('request log line', () => {
  it('one line per request with the ledger fields; the key appears only by name', () => {
    const { log, lines } = capture([CLIENT_KEY]);
    const event = { ...makeEvent({ id: 'cmpl_7', keyName: 'web', latencyMs: 88.5, ttftMs: 12 }), apiKey: CLIENT_KEY } as ReturnType<typeof makeEvent>;
    logRequest(log, event);
    logRequest(log, makeEvent({ id: 'cmpl_8', status: 'error', errorKind: 'timeout', costUsd: null }));
    expect(lines).toHaveLength(2);
    const ok = JSON.parse(lines[0]!);
    expect(ok).toMatchObject({
      level: 30, msg: 'request', requestId: 'cmpl_7', keyName: 'web', team: 'frontend', route: 'default', routeVersion: 1,
      provider: 'sim-openai', model: 'gpt-4o-mini', attempts: 1, tokens: { input: 10, output: 5, cachedInput: 0, cacheWrite: 0, reasoning: 0 },
      costUsd: 0.000005, priceSource: 'config', usageEstimated: false, latencyMs: 88.5, ttftMs: 12, cacheHit: false, stream: false, status: 'ok', errorKind: null,
    });
    expect(lines[0]).not.toContain(CLIENT_KEY);
    expect(ok.apiKey).toBeUndefined();
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 40, msg: 'request failed', errorKind: 'timeout', costUsd: null });
  });

  it('is the line pino would write for the same fields, key for key and in order; masked; level-filtered', () => {
    const { log, lines } = capture([CLIENT_KEY]);
    const event = makeEvent({ id: 'cmpl_9', keyName: `named ${CLIENT_KEY}`, latencyMs: 1.5, ttftMs: null });
    logRequest(log, event);
    const fast = JSON.parse(lines[0]!);
    const { level, time, msg, service, ...fields } = fast;
    log.info(fields, 'request');
    const viaPino = JSON.parse(lines[1]!);
    expect(Object.keys(fast)).toEqual(Object.keys(viaPino));
    expect({ ...fast, time: 0 }).toEqual({ ...viaPino, time: 0 });
    expect({ level, msg, service }).toEqual({ level: 30, msg: 'request', service: 'switchboard' });
    expect(Math.abs(time - Date.now())).toBeLessThan(5_000);
    expect(lines[0]).not.toContain(CLIENT_KEY);
    expect(fast.keyName).toBe('named [redacted]');

    const quiet = capture();
    quiet.log.level = 'warn';
    logRequest(quiet.log, makeEvent({ id: 'ok' }));
    logRequest(quiet.log, makeEvent({ id: 'bad', status: 'error', errorKind: 'timeout' }));
    expect(quiet.lines.map((l) => JSON.parse(l).requestId)).toEqual(['bad']);
  });
});

describe('stdout logger (batched writes)', () => {
  const loggerModule = fileURLToPath(new URL('../../src/telemetry/logger.ts', import.meta.url));
  const script = (body: string) => `import { createLogger } from ${JSON.stringify(loggerModule)}; const log = createLogger(); ${body}`;

  it('writes every line still waiting when the process exits, in order', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script("for (let i = 0; i < 3; i++) log.info({ i }, 'line'); process.exit(0);")], { encoding: 'utf8' });
    expect(out.trim().split('\n').map((l) => JSON.parse(l).i)).toEqual([0, 1, 2]);
  });

  it('a line waits at most about a quarter second while the process runs on', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script("log.info('first'); setTimeout(() => {}, 5000);")]);
    const started = Date.now();
    const line = await new Promise<string>((ok) => child.stdout.once('data', (d) => ok(String(d))));
    const waited = Date.now() - started;
    child.kill();
    expect(JSON.parse(line).msg).toBe('first');
    expect(waited).toBeLessThan(3_000);
  });
});
