import {
  dimsKey,
  parseDimsKey,
  ROLLUP_RETENTION_MS,
  UsageEventSchema,
  type Granularity,
  type LedgerBatch,
  type LedgerSink,
  type RollupCounters,
  type RollupRow,
  type UsageEvent,
} from '../core/index.ts';
import { connectRedis, type RedisClient } from './redis-connection.ts';
import { parseRedisUrl } from './redis-url.ts';
import { storeUnavailable } from './store-error.ts';

/**
 * The usage ledger on Redis, shared by every gateway instance on the same prefix. Keys all carry the
 * `{ledger}` hash tag, so the scripts below stay on one slot of a Redis Cluster (they build the
 * rollup hashes' names from that tag, which a cluster accepts because the slot is the same):
 * - `<p>{ledger}:events`: a stream of events (XADD MAXLEN ~), fields `id` and `e` (the JSON event);
 * - `<p>{ledger}:r:<granularity>:<bucketStart>`: one hash per rollup bucket, field
 *   `<counter>|<dims JSON>`, incremented with HINCRBY and expiring with its granularity's retention;
 * - `<p>{ledger}:idx:<granularity>`: a sorted set of the bucket starts that exist, so a read touches
 *   only buckets with traffic instead of stepping through every minute of a range;
 * - `<p>{ledger}:b:<batchId>`: a write's marker, so a batch retried after a lost reply is not counted twice.
 */

/**
 * KEYS: batch marker, events stream, minute index, hour index.
 * ARGV: batchTtlMs, maxEvents, minuteCutoff, hourCutoff, rollupKeyBase, nEvents, (id, json)×nEvents,
 * nRows, then per row: granularity, bucketStart, ttlMs, nFields, (field, increment)×nFields.
 */
const WRITE = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local i = 7
for _ = 1, tonumber(ARGV[6]) do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'id', ARGV[i], 'e', ARGV[i + 1])
  i = i + 2
end
local rows = tonumber(ARGV[i])
i = i + 1
for _ = 1, rows do
  local gran, start, ttl, nf = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  i = i + 4
  local key = ARGV[5] .. gran .. ':' .. start
  for _ = 1, nf do
    redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  redis.call('PEXPIRE', key, ttl)
  if gran == 'minute' then redis.call('ZADD', KEYS[3], start, start) else redis.call('ZADD', KEYS[4], start, start) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[4])
return 1
`;

/** KEYS: the granularity's index. ARGV: from, to (exclusive), the granularity's rollup key base. Returns start, fields, start, fields… */
const READ_ROLLUPS = `
local out = {}
for _, s in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '(' .. ARGV[2])) do
  out[#out + 1] = s
  out[#out + 1] = redis.call('HGETALL', ARGV[3] .. s)
end
return out
`;

/**
 * KEYS: events stream. ARGV: limit, the id of the event to read before ('' for the newest).
 * Newest first; the scan for `before` runs on the server, bounded by the stream's MAXLEN.
 */
const READ_EVENTS = `
local limit = tonumber(ARGV[1])
local before = ARGV[2]
local found = before == ''
local out = {}
local cursor = '+'
while #out < limit do
  local chunk = redis.call('XREVRANGE', KEYS[1], cursor, '-', 'COUNT', 256)
  for _, entry in ipairs(chunk) do
    local f = entry[2]
    local id, json
    for j = 1, #f, 2 do
      if f[j] == 'id' then id = f[j + 1] elseif f[j] == 'e' then json = f[j + 1] end
    end
    if found then
      out[#out + 1] = json
      if #out >= limit then break end
    elseif id == before then
      found = true
    end
  end
  if #chunk < 256 then break end
  cursor = '(' .. chunk[#chunk][1]
end
return out
`;

export interface RedisLedgerSinkOptions {
  client: RedisClient;
  /** The store's key prefix (config `store.prefix`). */
  prefix: string;
  /** Stream length kept (approximately: MAXLEN ~); default 100 000. */
  maxEvents?: number;
  /** How long rollups are kept; defaults match the memory sink (minutes 48 h, hours 90 days). */
  retentionMs?: Partial<Record<Granularity, number>>;
  /** How long a batch id is remembered (a retry comes within seconds); default 1 h. */
  batchTtlMs?: number;
  /** Epoch ms, for trimming the bucket indexes. */
  now?: () => number;
}

type Script = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export interface RedisLedgerSink extends LedgerSink {
  /** Read calls made (each is one round trip), for tests asserting batching. */
  readonly reads: number;
}

export function createRedisLedgerSink(opts: RedisLedgerSinkOptions): RedisLedgerSink {
  const { client, prefix } = opts;
  if (/[{}]/.test(prefix)) throw new Error('store prefix must not contain { or }');
  const maxEvents = opts.maxEvents ?? 100_000;
  const retention: Record<Granularity, number> = { ...ROLLUP_RETENTION_MS, ...opts.retentionMs };
  const batchTtlMs = opts.batchTtlMs ?? 3_600_000;
  const now = opts.now ?? Date.now;
  const k = {
    batch: (id: string) => `${prefix}{ledger}:b:${id}`,
    events: `${prefix}{ledger}:events`,
    idx: (g: Granularity) => `${prefix}{ledger}:idx:${g}`,
    rollupBase: `${prefix}{ledger}:r:`,
  };
  client.defineCommand('sbLedgerWrite', { lua: WRITE });
  client.defineCommand('sbLedgerReadRollups', { lua: READ_ROLLUPS });
  client.defineCommand('sbLedgerReadEvents', { lua: READ_EVENTS });
  const fns = client as unknown as Record<string, Script>;
  const run = async (operation: string, name: string, keys: string[], args: (string | number)[]) => {
    try {
      return await fns[name]!.call(client, keys.length, ...keys, ...args);
    } catch (e) {
      throw storeUnavailable(operation, e);
    }
  };

  let reads = 0;
  return {
    get reads() {
      return reads;
    },

    async write(batch: LedgerBatch): Promise<void> {
      const t = now();
      const args: (string | number)[] = [batchTtlMs, maxEvents, t - retention.minute, t - retention.hour, k.rollupBase, batch.events.length];
      for (const e of batch.events) args.push(e.id, JSON.stringify(e));
      args.push(batch.increments.length);
      for (const row of batch.increments) {
        const dk = dimsKey(row.dims);
        const fields = Object.entries(row.counters).filter(([, v]) => v !== 0);
        args.push(row.granularity, row.bucketStart, retention[row.granularity], fields.length);
        for (const [name, v] of fields) args.push(`${name}|${dk}`, Math.round(v));
      }
      await run('ledger write', 'sbLedgerWrite', [k.batch(batch.id), k.events, k.idx('minute'), k.idx('hour')], args);
    },

    async readRollups(q: { granularity: Granularity; from: number; to: number }): Promise<RollupRow[]> {
      reads++;
      const base = `${k.rollupBase}${q.granularity}:`;
      const reply = (await run('ledger read rollups', 'sbLedgerReadRollups', [k.idx(q.granularity)], [q.from, q.to, base])) as (string | string[])[];
      const out: RollupRow[] = [];
      for (let i = 0; i < reply.length; i += 2) {
        const bucketStart = Number(reply[i]);
        const flat = reply[i + 1] as string[];
        const byDims = new Map<string, RollupCounters>();
        for (let j = 0; j < flat.length; j += 2) {
          const field = flat[j]!;
          const bar = field.indexOf('|');
          const dk = field.slice(bar + 1);
          let counters = byDims.get(dk);
          if (!counters) byDims.set(dk, (counters = {}));
          counters[field.slice(0, bar)] = Number(flat[j + 1]);
        }
        for (const [dk, counters] of byDims) out.push({ granularity: q.granularity, bucketStart, dims: parseDimsKey(dk), counters });
      }
      return out;
    },

    async readEvents(q: { limit: number; before?: string | undefined }): Promise<UsageEvent[]> {
      reads++;
      const reply = (await run('ledger read events', 'sbLedgerReadEvents', [k.events], [Math.max(0, Math.floor(q.limit)), q.before ?? ''])) as string[];
      const out: UsageEvent[] = [];
      for (const json of reply) {
        // An entry written by an incompatible version is skipped rather than failing the whole page.
        const parsed = UsageEventSchema.safeParse(JSON.parse(json));
        if (parsed.success) out.push(parsed.data);
      }
      return out;
    },
  };
}

export interface RedisLedgerConnectionOptions {
  url: string;
  prefix: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  onError?: (message: string) => void;
  maxEvents?: number;
  now?: () => number;
}

/**
 * A ledger sink on its own connection (the ledger writes in batches off the request path; its
 * commands must not queue behind, or delay, the store's). Commands fail fast while Redis is down
 * (the ledger keeps events in its buffer and retries) and the connection recovers by itself.
 */
export function connectRedisLedgerSink(opts: RedisLedgerConnectionOptions): { sink: RedisLedgerSink; client: RedisClient; close(): Promise<void> } {
  const { client, subscriber } = connectRedis(parseRedisUrl(opts.url), {
    connectTimeoutMs: opts.connectTimeoutMs ?? 2_000,
    commandTimeoutMs: opts.commandTimeoutMs ?? 5_000,
    onError: opts.onError,
  });
  // connectRedis also opens a pub/sub connection; the ledger never subscribes.
  subscriber.disconnect();
  const sink = createRedisLedgerSink({ client, prefix: opts.prefix, maxEvents: opts.maxEvents, now: opts.now });
  return {
    sink,
    client,
    async close() {
      if (client.status === 'ready') await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 1_000).unref())]).catch(() => undefined);
      client.disconnect();
    },
  };
}
