import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';

/**
 * `npm test` brings its own Redis: unless TEST_REDIS_URL names one, a private `redis-server` (nothing kept on
 * disk) is started on a free loopback port for the run and stopped after it. The workers read the URL from
 * TEST_REDIS_URL (test/helpers/test-redis.ts), which they inherit from this process.
 */
let server: ChildProcess | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.write('PING\r\n');
      sock.once('data', (d) => {
        sock.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
    });
    sock.once('error', () => resolve(false));
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/**
 * The durable-ledger tests' PostgreSQL (test/helpers/test-postgres.ts): TEST_PG_URL, else the machine's server on
 * 127.0.0.1:5432, else its Unix socket (which a network namespace without that port still reaches).
 */
async function choosePostgres(): Promise<void> {
  if (process.env.TEST_PG_URL || (await listening(5432))) return;
  const dir = '/var/run/postgresql';
  if (existsSync(`${dir}/.s.PGSQL.5432`)) process.env.TEST_PG_URL = `postgres://postgres@localhost/test?host=${encodeURIComponent(dir)}`;
}

export async function setup(): Promise<void> {
  await choosePostgres();
  if (process.env.TEST_REDIS_URL) return;
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error) {
    throw new Error('npm test needs redis-server: install the redis-server package (apt-get install redis-server), or set TEST_REDIS_URL to a Redis to use');
  }
  const port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], {
    stdio: 'ignore',
  });
  const exited = new Promise<never>((_, reject) => server!.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it answered on port ${port}`))));
  for (let i = 0; i < 100; i++) {
    if (await Promise.race([answers(port), exited])) {
      process.env.TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  server.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port} within 5 s`);
}

export async function teardown(): Promise<void> {
  if (!server || server.exitCode !== null) return;
  const done = new Promise((r) => server!.once('exit', r));
  server.kill('SIGTERM');
  await done;
}
