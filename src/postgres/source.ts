import type pg from 'pg';
import { describeError, ConnectionError } from '../core/errors.ts';
import { quoteConnValue } from '../core/config/conninfo.ts';
import type { DatabaseSource, DumpRequest, ProgressProbe, RunningTool, ServerInfo, Snapshot } from '../core/ports/database-source.ts';
import { connect } from './client.ts';
import { PgProgressProbe } from './progress-probe.ts';
import { libpqEnv, type ResolvedConnection } from './credentials.ts';
import { checkedDumpBufferEnv } from './dump-buffer.ts';
import { spawnTool } from './spawn-tool.ts';
import { assertClientCanDump, type PgTools } from './tools.ts';

/** DatabaseSource over a real server: `pg` for facts and snapshots, the pg tools for dumps. */
export class PgSource implements DatabaseSource {
  readonly #conn: ResolvedConnection;
  readonly #tools: PgTools;
  #admin: pg.Client | undefined;
  #server: ServerInfo | undefined;

  /** A large stdout buffer for pg_dump where a libstdbuf is available and pg_dump runs with it (dump-buffer.ts). */
  #dumpEnv: Promise<Readonly<Record<string, string>>> | undefined;

  constructor(conn: ResolvedConnection, tools: PgTools) {
    this.#conn = conn;
    this.#tools = tools;
  }

  async #client(): Promise<pg.Client> {
    this.#admin ??= await connect(this.#conn);
    return this.#admin;
  }

  async #query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = await this.#client();
    try {
      return (await c.query<T>(sql, params)).rows;
    } catch (err) {
      throw new ConnectionError(`query on ${this.#conn.database} failed: ${describeError(err)}`, { cause: err });
    }
  }

  async serverInfo(): Promise<ServerInfo> {
    if (this.#server) return this.#server;
    const [row] = await this.#query<{ v: string; n: string }>(
      "select current_setting('server_version') as v, current_setting('server_version_num') as n",
    );
    const info: ServerInfo = { version: row!.v.split(' ')[0]!, versionNum: Number(row!.n), host: this.#conn.host };
    assertClientCanDump(this.#tools, info.versionNum, info.version);
    this.#server = info;
    return info;
  }

  async dumpToolVersion(): Promise<string> {
    return this.#tools.version;
  }

  async listDatabases(): Promise<readonly string[]> {
    const rows = await this.#query<{ datname: string }>(
      "select datname from pg_database where not datistemplate and datallowconn and has_database_privilege(datname, 'CONNECT') order by datname",
    );
    return rows.map((r) => r.datname);
  }

  async databaseSize(database: string): Promise<number | null> {
    try {
      const [row] = await this.#query<{ size: string | null }>(
        'select pg_database_size(datname)::text as size from pg_database where datname = $1',
        [database],
      );
      return row?.size ? Number(row.size) : null;
    } catch {
      // Size only tunes the part size; pg_dump itself reports a missing or forbidden database.
      return null;
    }
  }

  async exportSnapshot(database: string, lockWaitTimeout: string | null): Promise<Snapshot> {
    const c = await connect(this.#conn, database);
    let id: string;
    try {
      await c.query('begin transaction isolation level repeatable read read only');
      // count(*) queues behind a conflicting lock like pg_dump's LOCK TABLE would: same limit, or it waits forever.
      if (lockWaitTimeout) await c.query("select set_config('lock_timeout', $1, true)", [lockWaitTimeout]);
      const [snap] = (await c.query<{ id: string }>('select pg_export_snapshot() as id')).rows;
      id = snap!.id;
    } catch (err) {
      await c.end().catch(() => undefined);
      throw new ConnectionError(`exporting a snapshot of ${database} failed: ${describeError(err)}`, { cause: err });
    }
    let released = false;
    let counting = false;
    return {
      id,
      countRows: async () => {
        counting = true;
        try {
          const rowCounts: Record<string, number> = {};
          const tables = (
            await c.query<{ nspname: string; relname: string }>(
              `select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%'
                 and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
               order by 1, 2`,
            )
          ).rows;
          for (const t of tables) {
            const ident = `${quoteIdent(t.nspname)}.${quoteIdent(t.relname)}`;
            const [r] = (await c.query<{ n: string }>(`select count(*)::text as n from ${ident}`)).rows;
            rowCounts[`${t.nspname}.${t.relname}`] = Number(r!.n);
          }
          return rowCounts;
        } catch (err) {
          const lock = /lock timeout/i.test(describeError(err));
          throw new ConnectionError(
            released
              ? `counting the rows of ${database} was cut short: the backup ended first`
              : `counting the rows of ${database} failed: ${describeError(err)}`,
            {
              cause: err,
              ...(lock ? { hint: 'another session holds a conflicting lock on a table; retry later or raise --lock-wait-timeout' } : {}),
            },
          );
        } finally {
          counting = false;
        }
      },
      // The exporting transaction must stay open until pg_dump has imported the snapshot; callers release after the dump.
      // A count still running (the dump failed first) is not waited for: closing the session ends its read-only
      // transaction, where a COMMIT would queue behind the scan.
      release: async () => {
        released = true;
        if (!counting) await c.query('commit').catch(() => undefined);
        await c.end().catch(() => undefined);
      },
    };
  }

  async startDump(req: DumpRequest): Promise<RunningTool> {
    const env = await libpqEnv(this.#conn);
    const args = [
      '--format=custom',
      `--compress=${req.compression}`,
      '--no-password',
      // Quoted conninfo: a database named like "host=evil" stays a name.
      `--dbname=dbname=${quoteConnValue(req.database)}`,
    ];
    if (req.snapshot) args.push(`--snapshot=${req.snapshot}`);
    if (req.lockWaitTimeout) args.push(`--lock-wait-timeout=${req.lockWaitTimeout}`);
    this.#dumpEnv ??= checkedDumpBufferEnv(this.#tools);
    return spawnTool('pg_dump', this.#tools.pgDump, args, { ...env, ...(await this.#dumpEnv) });
  }

  async startGlobalsDump(): Promise<RunningTool> {
    const env = await libpqEnv(this.#conn);
    // --no-role-passwords: RDS forbids reading pg_authid, and password hashes do not belong in a bucket anyway.
    const args = ['--globals-only', '--no-role-passwords', '--no-password', `--dbname=dbname=${quoteConnValue(this.#conn.database)}`];
    return spawnTool('pg_dumpall', this.#tools.pgDumpall, args, env);
  }

  progressProbe(database: string): ProgressProbe {
    // serverInfo() ran before any dump; without it the probe falls back to the coarse (13) method.
    return new PgProgressProbe(this.#conn, database, this.#server?.versionNum ?? 0);
  }

  async close(): Promise<void> {
    const c = this.#admin;
    this.#admin = undefined;
    await c?.end().catch(() => undefined);
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
