/**
 * DNS rebinding against local mode: a page on a domain re-pointed at 127.0.0.1 reaches the gateway with its own
 * domain as Host. Without keys every caller is admin, so only loopback host names are served; with keys the Host
 * does not matter (the key does).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startStack, type Stack } from '../helpers/start-stack.ts';

let local: Stack;
let keyed: Stack;
const KEY = 'rebinding-admin-key-0123456789';

beforeAll(async () => {
  local = await startStack();
  keyed = await startStack((c) => ({ ...c, keys: [{ key: KEY, name: 'ops', scope: 'admin' }] }));
});
afterAll(async () => {
  await local?.close();
  await keyed?.close();
});

function get(base: string, path: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers: { host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('local mode only serves loopback host names', () => {
  it('refuses a foreign Host with 421 and a JSON error naming the reason', async () => {
    const r = await get(local.url, '/v1/models', 'attacker.example');
    expect(r.status).toBe(421);
    expect(JSON.parse(r.body).error).toMatchObject({ code: 'forbidden', param: 'host' });
    expect((await get(local.url, '/graphql', 'rebind.attacker.example:4000')).status).toBe(421);
  });

  it('serves localhost, 127.x and [::1] on any port', async () => {
    const port = new URL(local.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `[::1]:${port}`, '127.1.2.3']) {
      expect((await get(local.url, '/v1/models', host)).status, host).toBe(200);
    }
  });

  it('closes a WebSocket upgrade with a foreign Host, and takes one with a loopback Host', async () => {
    const wsUrl = local.url.replace('http', 'ws') + '/graphql';
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(wsUrl, 'graphql-transport-ws', { headers: { host: 'attacker.example' } });
      ws.on('open', () => resolve('open'));
      ws.on('error', () => resolve('refused'));
    });
    expect(refused).toBe('refused');
    const ok = await new Promise<string>((resolve) => {
      const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
      ws.on('open', () => {
        ws.close();
        resolve('open');
      });
      ws.on('error', (e) => resolve(String(e)));
    });
    expect(ok).toBe('open');
  });

  it('with keys, any Host is served (the key decides)', async () => {
    const r = await get(keyed.url, '/v1/models', 'gateway.internal.example', { authorization: `Bearer ${KEY}` });
    expect(r.status).toBe(200);
  });
});
