import type pg from 'pg';
import type { ProgressProbe, ProgressSample } from '../core/ports/database-source.ts';
import { connect } from './client.ts';
import type { ResolvedConnection } from './credentials.ts';

/** How the probe's session shows in pg_stat_activity, so an operator can tell it from the dump itself. */
const PROBE_APPLICATION_NAME = 'rds-s3-backup progress';
/** pg_dump runs with PGAPPNAME=rds-s3-backup (credentials.ts): how its backend is found. */
const DUMP_APPLICATION_NAME = 'rds-s3-backup';

type Table = { readonly oid: string; readonly name: string; readonly bytes: number; readonly tuples: number };

// The tables whose data pg_dump copies (ordinary tables and leaf partitions outside the system schemas and
// extensions), in pg_dump's own serial order: TABLE DATA entries sort by schema, then name, bytewise (pg_dump_sort.c),
// so every table before the one being copied is finished, including those copied between two samples.
// pg_table_size takes an AccessShareLock like pg_dump's own; lock_timeout keeps it from queueing behind a DDL waiter.
const TABLES_SQL = `select c.oid::text as oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name,
  pg_table_size(c.oid)::text as bytes, greatest(c.reltuples, 0)::text as tuples
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'r' and n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'
  and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
order by n.nspname collate "C", c.relname collate "C"`;

// 14+: the running COPY's own counters. Only sessions of the same role are visible without pg_read_all_stats,
// which is exactly pg_dump's session (it runs as the same user).
const COPY_SQL = `select p.relid::text as oid, p.tuples_processed::text as tuples, p.bytes_processed::text as bytes
from pg_stat_progress_copy p join pg_stat_activity a on a.pid = p.pid
where p.datname = current_database() and p.command = 'COPY TO' and a.application_name = $1 and p.pid <> pg_backend_pid()`;

// 13: no COPY progress view; the query text names the table ("COPY public.t (a, b) TO stdout;"). Not filtered on
// state: a COPY blocked on a slow client shows as 'idle in transaction' there, and the last COPY is the table anyway.
const ACTIVITY_SQL = `select query from pg_stat_activity
where datname = current_database() and application_name = $1 and pid <> pg_backend_pid() and query ilike 'copy %'`;

const IDENT = String.raw`(?:"(?:[^"]|"")*"|[^\s."(]+)`;
const COPY_TABLE = new RegExp(String.raw`^\s*copy\s+(${IDENT}\.${IDENT})`, 'i');

/** The table in a pg_dump COPY statement, quoted as quote_ident quotes it (pg_dump's fmtId quotes the same way). */
export function copiedTable(query: string): string | null {
  return COPY_TABLE.exec(query)?.[1] ?? null;
}

/** Progress of one database's dump read from the server: a second, low-cost session in that database. */
export class PgProgressProbe implements ProgressProbe {
  readonly #conn: ResolvedConnection;
  readonly #database: string;
  readonly #versionNum: number;
  #client: Promise<pg.Client> | undefined;
  #tables: readonly Table[] | undefined;
  #total = 0;
  /** Index of the furthest table seen being copied, and the bytes counted up to there: progress never goes back. */
  #index = -1;
  #done = 0;

  constructor(conn: ResolvedConnection, database: string, versionNum: number) {
    this.#conn = conn;
    this.#database = database;
    this.#versionNum = versionNum;
  }

  async sample(): Promise<ProgressSample> {
    this.#client ??= connect(this.#conn, this.#database, {
      applicationName: PROBE_APPLICATION_NAME,
      statementTimeoutMs: 2000,
      lockTimeoutMs: 1000,
    });
    const c = await this.#client;
    if (!this.#tables) {
      const rows = (await c.query<{ oid: string; name: string; bytes: string; tuples: string }>(TABLES_SQL)).rows;
      this.#tables = rows.map((r) => ({ oid: r.oid, name: r.name, bytes: Number(r.bytes), tuples: Number(r.tuples) }));
      this.#total = this.#tables.reduce((s, t) => s + t.bytes, 0);
    }
    const tables = this.#tables;
    const copy = this.#versionNum >= 140000;
    let index = -1;
    let share = 0;
    if (copy) {
      const [row] = (await c.query<{ oid: string; tuples: string; bytes: string }>(COPY_SQL, [DUMP_APPLICATION_NAME])).rows;
      if (row) {
        index = tables.findIndex((t) => t.oid === row.oid);
        const t = tables[index];
        if (t) {
          // Tuples against the planner's estimate when there is one: COPY's text bytes bear no fixed relation to pages.
          const fraction = t.tuples > 0 ? Number(row.tuples) / t.tuples : t.bytes > 0 ? Number(row.bytes) / t.bytes : 0;
          share = Math.min(1, fraction) * t.bytes;
        }
      }
    } else {
      const [row] = (await c.query<{ query: string }>(ACTIVITY_SQL, [DUMP_APPLICATION_NAME])).rows;
      const name = row ? copiedTable(row.query) : null;
      if (name) index = tables.findIndex((t) => t.name === name);
    }
    if (index >= 0) {
      const before = tables.slice(0, index).reduce((s, t) => s + t.bytes, 0);
      if (index >= this.#index) {
        this.#index = index;
        this.#done = Math.max(this.#done, before + share);
      }
    }
    const current = index >= 0 ? tables[index]!.name : null;
    return {
      doneBytes: Math.min(this.#done, this.#total),
      totalBytes: this.#total,
      currentTable: current,
      tablesDone: Math.max(0, this.#index),
      tablesTotal: tables.length,
      method: copy ? 'copy' : 'activity',
    };
  }

  async close(): Promise<void> {
    const pending = this.#client;
    this.#client = undefined;
    const c = await pending?.catch(() => undefined);
    await c?.end().catch(() => undefined);
  }
}
