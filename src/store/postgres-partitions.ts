import { inTransaction, type PgPool } from './postgres-connection.ts';
import { LEDGER_TABLE } from './postgres-migrations.ts';

export const DAY_MS = 86_400_000;

/** The UTC day (days since the epoch) an epoch-ms instant falls in. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);

/** `usage_events_p20260701`: the partition holding that UTC day. */
export function partitionName(day: number): string {
  return `${LEDGER_TABLE}_p${new Date(day * DAY_MS).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function dayOfName(name: string): number | undefined {
  const m = /_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? dayOf(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
}

/** Partition DDL of all instances takes turns (CREATE TABLE IF NOT EXISTS races with itself). */
const PARTITION_LOCK = "hashtext('switchboard.ledger.partitions')";

export interface PartitionManagerOptions {
  pool: PgPool;
  /** Epoch ms; tests inject a clock. */
  now: () => number;
  /** Partitions whose whole day is older than this many days are dropped. */
  retentionDays: number;
  /** Days after today created ahead of need (default 2), so a write at midnight does not wait on DDL. */
  aheadDays?: number;
}

/**
 * The events table's day partitions: created ahead (today + `aheadDays`) and on demand for the days a batch
 * holds, dropped once older than the retention. DDL runs in a transaction under an advisory lock; which
 * days exist is remembered so a write adds no round trip once its day is known.
 */
export function createPartitionManager(opts: PartitionManagerOptions) {
  const { pool, now } = opts;
  const aheadDays = opts.aheadDays ?? 2;
  const known = new Set<number>();

  async function create(days: number[]): Promise<void> {
    await inTransaction(pool, async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`);
      for (const day of days) {
        // Names and bounds are made from integers here, never from input.
        const from = new Date(day * DAY_MS).toISOString();
        const to = new Date((day + 1) * DAY_MS).toISOString();
        await client.query(`CREATE TABLE IF NOT EXISTS ${partitionName(day)} PARTITION OF ${LEDGER_TABLE} FOR VALUES FROM ('${from}') TO ('${to}')`);
      }
    });
    for (const day of days) known.add(day);
  }

  /** The partitions of these days exist when it resolves. */
  async function ensure(days: Iterable<number>): Promise<void> {
    const missing = [...new Set(days)].filter((d) => !known.has(d)).sort((a, b) => a - b);
    if (missing.length > 0) await create(missing);
  }

  /** Existing partitions, by day. */
  async function list(): Promise<Map<number, string>> {
    const { rows } = await pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '${LEDGER_TABLE}'::regclass`,
    );
    const out = new Map<number, string>();
    for (const r of rows) {
      const day = dayOfName(r.name);
      if (day !== undefined) out.set(day, r.name);
    }
    return out;
  }

  /**
   * Creates today's and the next `aheadDays` partitions, and drops those whose day ended before the
   * retention cutoff (now − retentionDays). Returns the partitions created and dropped.
   */
  async function maintain(): Promise<{ created: string[]; dropped: string[] }> {
    const t = now();
    const today = dayOf(t);
    const existing = await list();
    for (const day of existing.keys()) known.add(day);
    const wanted: number[] = [];
    for (let d = today; d <= today + aheadDays; d++) if (!existing.has(d)) wanted.push(d);
    if (wanted.length > 0) await create(wanted);
    const cutoff = t - opts.retentionDays * DAY_MS;
    const expired = [...existing].filter(([day]) => (day + 1) * DAY_MS <= cutoff);
    if (expired.length > 0) {
      await inTransaction(pool, async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`);
        for (const [, name] of expired) await client.query(`DROP TABLE IF EXISTS ${name}`);
      });
      for (const [day] of expired) known.delete(day);
    }
    return { created: wanted.map(partitionName), dropped: expired.map(([, name]) => name) };
  }

  return {
    ensure,
    maintain,
    list,
    /** Forget what is known to exist (another instance may have dropped a partition): the next ensure asks again. */
    forget: () => known.clear(),
  };
}

export type PartitionManager = ReturnType<typeof createPartitionManager>;
