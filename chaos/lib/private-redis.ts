/**
 * A redis-server of the suite's own on a free loopback port (never the shared one), with an append-only file
 * fsynced on every write in a temporary directory: killed with SIGKILL and started again, it comes back with
 * what it had acknowledged — so events the ledger wrote before the outage are still there to count, and
 * only the gateway can lose one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from './http.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrivateRedis {
  port: number;
  url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Kills it and removes its directory. */
  close(): Promise<void>;
}

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG') || d.toString().startsWith('-NOAUTH'));
    });
    s.once('error', () => resolve(false));
  });
}

/** Servers still running, killed synchronously should the run exit without closing them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startPrivateRedis(password: string): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sb-chaos-redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir],
      { stdio: 'ignore' },
    );
    const c = child;
    live.add(c);
    c.once('exit', () => live.delete(c));
    for (let i = 0; i < 200; i++) {
      if (await pong(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the private redis-server did not start (is redis-server installed?)');
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://:${password}@127.0.0.1:${port}`,
    start,
    kill,
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
