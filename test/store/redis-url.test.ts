import { describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../src/store/redis-url.ts';

describe('Redis URLs', () => {
  it('standalone, with TLS, credentials and a database', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ mode: 'standalone', host: '127.0.0.1', port: 6379, db: 0, tls: false, username: undefined, password: undefined });
    expect(parseRedisUrl('rediss://user:p%40ss@cache.example.com/2')).toEqual({
      mode: 'standalone', host: 'cache.example.com', port: 6379, db: 2, tls: true, username: 'user', password: 'p@ss',
    });
    expect(parseRedisUrl('redis://:secret@[::1]:6380')).toMatchObject({ host: '::1', port: 6380, password: 'secret', username: undefined });
  });

  it('Sentinel: several sentinels, a master name, optional db and sentinel password', () => {
    expect(parseRedisUrl('redis-sentinel://:pw@s1:26379,s2,s3:26380/mymaster/1?sentinelPassword=sp')).toEqual({
      mode: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }, { host: 's3', port: 26380 }],
      masterName: 'mymaster', db: 1, sentinelPassword: 'sp', tls: false, username: undefined, password: 'pw',
    });
  });

  it('Cluster: seed nodes', () => {
    expect(parseRedisUrl('rediss-cluster://n1:7000,n2:7001')).toMatchObject({ mode: 'cluster', nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }], tls: true });
  });

  it('rejects bad URLs naming the problem, never echoing a password', () => {
    const bad = (url: string) => {
      try {
        parseRedisUrl(url);
      } catch (e) {
        return e as { kind: string; param: string; message: string };
      }
      throw new Error('accepted');
    };
    expect(bad('http://x')).toMatchObject({ kind: 'invalid_request', param: 'store.url', message: expect.stringContaining('unknown scheme') });
    expect(bad('redis-sentinel://:hunter2@s1,s2')).toMatchObject({ message: expect.stringContaining('name the master') });
    expect(bad('redis-sentinel://:hunter2@s1,s2').message).not.toContain('hunter2');
    expect(bad('redis://a:1,b:2')).toMatchObject({ message: expect.stringContaining('several hosts') });
    expect(bad('redis://host:99999')).toMatchObject({ message: expect.stringContaining('port') });
    expect(bad('redis://host/abc')).toMatchObject({ message: expect.stringContaining('database') });
    expect(bad('redis-cluster://a:1/0')).toMatchObject({ message: expect.stringContaining('cluster') });
  });
});
