import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const ADMIN_KEY = 'sk-viewer-admin-0123456789';
const CLIENT_KEY = 'sk-viewer-client-0123456789';
const VIEWER = '{ viewer { name scope localMode team } }';

describe('viewer with keys', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack((c) => ({
      ...c,
      keys: [
        { key: ADMIN_KEY, name: 'ops', scope: 'admin' },
        { key: CLIENT_KEY, name: 'web', scope: 'client', routes: ['default'], team: 'frontend' },
      ],
    }));
  });
  afterAll(() => stack.close());

  it('an admin key is ADMIN, not local mode', async () => {
    expect(await stack.gql(VIEWER, {}, ADMIN_KEY)).toEqual({ data: { viewer: { name: 'ops', scope: 'ADMIN', localMode: false, team: null } } });
  });

  it('a client key is CLIENT, with its team', async () => {
    expect(await stack.gql(VIEWER, {}, CLIENT_KEY)).toEqual({ data: { viewer: { name: 'web', scope: 'CLIENT', localMode: false, team: 'frontend' } } });
  });

  it('no key is refused (UNAUTHENTICATED), not answered as some viewer', async () => {
    const r = await stack.gql(VIEWER);
    expect(r.data ?? null).toBeNull();
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('answers over graphql-ws as over HTTP', async () => {
    const client = createClient({
      url: stack.url.replace(/^http/, 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${CLIENT_KEY}` },
      retryAttempts: 0,
    });
    try {
      let result: unknown;
      for await (const r of client.iterate({ query: VIEWER })) result = r;
      expect(result).toEqual({ data: { viewer: { name: 'web', scope: 'CLIENT', localMode: false, team: 'frontend' } } });
    } finally {
      await client.dispose();
    }
  });
});

describe('viewer in local mode', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('is the local admin, in local mode', async () => {
    expect(await stack.gql(VIEWER)).toEqual({ data: { viewer: { name: 'local', scope: 'ADMIN', localMode: true, team: null } } });
  });
});
