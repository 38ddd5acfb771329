/**
 * Real Redis Sentinel and Redis Cluster deployments for tests, from the machine's `redis-server`: every node on
 * a free loopback port, its config and working directory in a temp dir, nothing persisted (no RDB, no AOF).
 *
 * Each node runs as `sh -c 'redis-server conf & read _; kill -9 $!'` in its own process group, with the shell's
 * stdin a pipe from this process: `stop()` (and `kill()` for failover tests) SIGKILLs the group, and if the test
 * worker dies without cleaning up, the pipe closes, `read` returns and the shell kills its redis-server — no
 * stray servers either way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisNode {
  port: number;
  /** SIGKILL to the node's process group (no goodbye to clients, as when a host dies); resolves once it is gone. */
  kill(): Promise<void>;
  readonly alive: boolean;
}

export interface SentinelTopology {
  /** `redis-sentinel://[:password@]h:p,h:p,h:p/<masterName>[?sentinelPassword=…]` */
  url: string;
  masterName: string;
  master: RedisNode;
  replica: RedisNode;
  sentinels: RedisNode[];
  /** The master's port as the sentinels now report it (the replica's after a failover). */
  masterPort(): Promise<number>;
  /** A direct connection to a data node (for assertions on raw keys). */
  connect(port: number): Redis;
  stop(): Promise<void>;
}

export interface ClusterTopology {
  /** `redis-cluster://[:password@]h:p,h:p,h:p` (the masters as seeds). */
  url: string;
  masters: RedisNode[];
  replicas: RedisNode[];
  /** The node that currently serves `key`'s slot (as a surviving node sees it). */
  ownerOf(key: string): Promise<RedisNode>;
  /** Resolves once every live node reports `cluster_state:ok` and `key`'s slot has a live master. */
  waitHealthy(key?: string, timeoutMs?: number): Promise<void>;
  connect(port: number): Redis;
  stop(): Promise<void>;
}

export interface TopologyOptions {
  /** requirepass/masterauth on the data nodes (and `requirepass` on sentinels when sentinelPassword is set). */
  password?: string;
}

// ── processes ──────────────────────────────────────────────────────────────────────────────────────

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) killGroup(c);
});

function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Polls `check` until it returns a value other than undefined; throws after `timeoutMs` naming `what`. */
export async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One command on a short-lived connection that never retries (the node may be down). */
export async function command(port: number, password: string | undefined, ...args: (string | number)[]): Promise<unknown> {
  const r = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1_000, enableOfflineQueue: false });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    r.disconnect();
  }
}

async function startNode(dir: string, port: number, conf: string, sentinel = false): Promise<RedisNode> {
  const file = join(dir, `${port}.conf`);
  await writeFile(file, conf);
  // `read` returns when our end of stdin closes (this process exited, however): the shell then kills redis.
  const child = spawn('sh', ['-c', `redis-server "$0"${sentinel ? ' --sentinel' : ''} & read _; kill -9 $! 2>/dev/null`, file], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  live.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  void exited.then(() => live.delete(child));
  const node: RedisNode = {
    port,
    get alive() {
      return live.has(child);
    },
    async kill() {
      if (!live.has(child)) return;
      killGroup(child);
      await exited;
      // The group is gone with its shell; wait until the port no longer answers (redis itself has exited).
      await until(`port ${port} to close`, 5_000, async () => ((await answers(port)) ? undefined : true));
    },
  };
  await until(`redis-server on port ${port}`, 10_000, async () => ((await answers(port)) ? true : undefined));
  return node;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

const dataNodeConf = (dir: string, port: number, password: string | undefined, extra: string[] = []) =>
  [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    'save ""',
    'appendonly no',
    'daemonize no',
    'loglevel warning',
    // Full syncs over the socket: nothing is written to disk, and the replica is in sync at once.
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    ...(password ? [`requirepass ${password}`, `masterauth ${password}`] : []),
    ...extra,
    '',
  ].join('\n');

function connectTo(port: number, password: string | undefined): Redis {
  const r = new Redis({ host: '127.0.0.1', port, password });
  r.on('error', () => undefined);
  return r;
}

function infoField(info: unknown, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(String(info))?.[1]?.trim();
}

// ── Sentinel ───────────────────────────────────────────────────────────────────────────────────────

export interface SentinelOptions extends TopologyOptions {
  /** The sentinels' own password (`requirepass` on them; `?sentinelPassword=` in the URL). */
  sentinelPassword?: string;
  /** How long a master may be silent before it is considered down; short makes failover take seconds. */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

/** One master, one replica (replicaof) and three sentinels monitoring the master with quorum 2. */
export async function startSentinel(opts: SentinelOptions = {}): Promise<SentinelTopology> {
  const { password, sentinelPassword } = opts;
  const masterName = 'sbmaster';
  const root = await mkdtemp(join(tmpdir(), 'sb-sentinel-'));
  const nodes: RedisNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    const [mPort, rPort, ...sPorts] = await Promise.all(Array.from({ length: 5 }, freePort));
    const nodeDir = async (port: number) => {
      const d = join(root, String(port));
      await mkdir(d);
      return d;
    };
    const master = await startNode(root, mPort!, dataNodeConf(await nodeDir(mPort!), mPort!, password));
    nodes.push(master);
    const replica = await startNode(root, rPort!, dataNodeConf(await nodeDir(rPort!), rPort!, password, [`replicaof 127.0.0.1 ${mPort}`]));
    nodes.push(replica);
    await until('the replica to sync', 10_000, async () =>
      infoField(await command(rPort!, password, 'INFO', 'replication'), 'master_link_status') === 'up' ? true : undefined,
    );
    const sentinels: RedisNode[] = [];
    for (const port of sPorts) {
      const conf = [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${await nodeDir(port)}`,
        'daemonize no',
        'loglevel warning',
        `sentinel monitor ${masterName} 127.0.0.1 ${mPort} 2`,
        `sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs ?? 5_000}`,
        `sentinel failover-timeout ${masterName} ${opts.failoverTimeoutMs ?? 10_000}`,
        `sentinel parallel-syncs ${masterName} 1`,
        ...(password ? [`sentinel auth-pass ${masterName} ${password}`] : []),
        // Sentinels authenticate to each other with their own requirepass.
        ...(sentinelPassword ? [`requirepass ${sentinelPassword}`] : []),
        '',
      ].join('\n');
      const s = await startNode(root, port, conf, true);
      nodes.push(s);
      sentinels.push(s);
    }
    // Failover needs each sentinel to know the replica and the two other sentinels (hello messages, ~2 s).
    for (const s of sentinels) {
      await until(`sentinel ${s.port} to see the replica and its peers`, 15_000, async () => {
        const flat = (await command(s.port, sentinelPassword, 'SENTINEL', 'MASTER', masterName)) as string[];
        const m = new Map<string, string>();
        for (let i = 0; i < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
        return Number(m.get('num-slaves')) >= 1 && Number(m.get('num-other-sentinels')) >= 2 ? true : undefined;
      });
    }
    const auth = password ? `:${encodeURIComponent(password)}@` : '';
    const query = sentinelPassword ? `?sentinelPassword=${encodeURIComponent(sentinelPassword)}` : '';
    return {
      url: `redis-sentinel://${auth}${sPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${masterName}${query}`,
      masterName,
      master,
      replica,
      sentinels,
      async masterPort() {
        for (const s of sentinels.filter((x) => x.alive)) {
          try {
            const [, port] = (await command(s.port, sentinelPassword, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
            return Number(port);
          } catch {
            // try the next sentinel
          }
        }
        throw new Error('no sentinel answered');
      },
      connect: (port) => connectTo(port, password),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ── Cluster ────────────────────────────────────────────────────────────────────────────────────────

export interface ClusterOptions extends TopologyOptions {
  /** 0: three masters only; 1: one replica per master (needed for a failover). */
  replicasPerMaster?: 0 | 1;
  /** cluster-node-timeout: how long a silent master has before it is failed over. */
  nodeTimeoutMs?: number;
  /** `enable-debug-command local` (DEBUG SLEEP to stall one node). */
  debugCommand?: boolean;
}

interface ClusterNodeLine {
  id: string;
  port: number;
  master: boolean;
  failed: boolean;
  slots: [number, number][];
}

function parseClusterNodes(text: string): ClusterNodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flags, , , , , , ...slots] = line.split(' ');
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(addr!)?.[1]),
        master: flags!.includes('master'),
        failed: /fail/.test(flags!) || flags!.includes('noaddr'),
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [a, b] = s.split('-');
            return [Number(a), Number(b ?? a)] as [number, number];
          }),
      };
    });
}

const SLOTS = 16_384;

/** Three masters (slots split evenly) and optionally one replica each; resolves once `cluster_state:ok` everywhere. */
export async function startCluster(opts: ClusterOptions = {}): Promise<ClusterTopology> {
  const { password } = opts;
  const replicasPerMaster = opts.replicasPerMaster ?? 0;
  const root = await mkdtemp(join(tmpdir(), 'sb-cluster-'));
  const all: RedisNode[] = [];
  const stop = async () => {
    await Promise.all(all.map((n) => n.kill()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    const count = 3 * (1 + replicasPerMaster);
    // Explicit bus ports (cluster-port, Redis 7): port + 10000 may be taken or out of range.
    const ports = await Promise.all(Array.from({ length: count * 2 }, freePort));
    const pairs = Array.from({ length: count }, (_, i) => ({ port: ports[2 * i]!, bus: ports[2 * i + 1]! }));
    const started = await Promise.all(
      pairs.map(async ({ port, bus }) => {
        const dir = join(root, String(port));
        await mkdir(dir);
        const extra = [
          'cluster-enabled yes',
          `cluster-port ${bus}`,
          // nodes.conf is required by cluster mode; it lives (and dies) in the temp dir.
          'cluster-config-file nodes.conf',
          `cluster-node-timeout ${opts.nodeTimeoutMs ?? 5_000}`,
          // A replica may always take over, however long it was cut off from its master.
          'cluster-replica-validity-factor 0',
          ...(opts.debugCommand ? ['enable-debug-command local'] : []),
        ];
        return startNode(root, port, dataNodeConf(dir, port, password, extra));
      }),
    );
    all.push(...started);
    const masters = started.slice(0, 3);
    const replicas = started.slice(3);
    const ids = await Promise.all(started.map(async (n) => String(await command(n.port, password, 'CLUSTER', 'MYID'))));
    await Promise.all(
      masters.map(async (m, i) => {
        const from = Math.floor((i * SLOTS) / 3);
        const to = Math.floor(((i + 1) * SLOTS) / 3) - 1;
        await command(m.port, password, 'CLUSTER', 'ADDSLOTSRANGE', from, to);
        // Distinct config epochs up front, as redis-cli --cluster create does.
        await command(m.port, password, 'CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
      }),
    );
    for (const p of pairs.slice(1)) await command(pairs[0]!.port, password, 'CLUSTER', 'MEET', '127.0.0.1', p.port, p.bus);
    await until('every node to know every other', 20_000, async () => {
      for (const n of started) {
        const known = infoField(await command(n.port, password, 'CLUSTER', 'INFO'), 'cluster_known_nodes');
        if (Number(known) !== count) return undefined;
      }
      return true;
    });
    await Promise.all(replicas.map((r, i) => command(r.port, password, 'CLUSTER', 'REPLICATE', ids[i]!)));
    const topology: ClusterTopology = {
      url: `redis-cluster://${password ? `:${encodeURIComponent(password)}@` : ''}${masters.map((m) => `127.0.0.1:${m.port}`).join(',')}`,
      masters,
      replicas,
      connect: (port) => connectTo(port, password),
      async ownerOf(key) {
        const asker = all.find((n) => n.alive)!;
        const slot = Number(await command(asker.port, password, 'CLUSTER', 'KEYSLOT', key));
        const lines = parseClusterNodes(String(await command(asker.port, password, 'CLUSTER', 'NODES')));
        const owner = lines.find((l) => l.master && !l.failed && l.slots.some(([a, b]) => slot >= a && slot <= b));
        const node = owner && all.find((n) => n.port === owner.port);
        if (!node) throw new Error(`no live master serves slot ${slot}`);
        return node;
      },
      async waitHealthy(key, timeoutMs = 20_000) {
        await until('cluster_state:ok on every live node', timeoutMs, async () => {
          for (const n of all.filter((x) => x.alive)) {
            if (infoField(await command(n.port, password, 'CLUSTER', 'INFO'), 'cluster_state') !== 'ok') return undefined;
          }
          if (key !== undefined && !(await topology.ownerOf(key)).alive) return undefined;
          return true;
        });
      },
      stop,
    };
    await topology.waitHealthy();
    if (replicas.length > 0) {
      await until('the replicas to sync', 15_000, async () => {
        for (const r of replicas) {
          if (infoField(await command(r.port, password, 'INFO', 'replication'), 'master_link_status') !== 'up') return undefined;
        }
        return true;
      });
    }
    return topology;
  } catch (e) {
    await stop();
    throw e;
  }
}
