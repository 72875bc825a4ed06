import type pg from 'pg';
import { ConnectionError, describeError } from '../core/errors.ts';
import type { ArchiveFilters, GatedRestore, GlobalsReport, RestoreTarget, TableCounts, ToolReport } from '../core/ports/database-target.ts';
import type { ServerInfo } from '../core/ports/database-source.ts';
import { applyGlobals } from './apply-globals.ts';
import { connect } from './client.ts';
import { createDatabaseFromArchive } from './create-database.ts';
import { libpqEnv, type ResolvedConnection } from './credentials.ts';
import { Lz4CompressionFilter } from './compression-filter.ts';
import { startGatedRestore } from './gated-restore.ts';
import { restoreFile } from './parallel-restore.ts';
import { PG17, type RestoreSession } from './restore-tools.ts';
import { quoteIdent } from './source.ts';
import type { PgTools } from './tools.ts';

/** RestoreTarget over a real server: `pg` for facts and bookkeeping, pg_restore and psql for the restore itself. */
export class PgRestoreTarget implements RestoreTarget {
  readonly #conn: ResolvedConnection;
  readonly #tools: PgTools;
  readonly database: string | null;
  readonly description: string;
  #server: ServerInfo | undefined;
  readonly #session: RestoreSession;

  /** `database`: the database the target names (null: none given). `adaptForVerify`: verify's throwaway server only. */
  constructor(conn: ResolvedConnection, tools: PgTools, database: string | null, options: { adaptForVerify?: boolean } = {}) {
    this.#conn = conn;
    this.#tools = tools;
    this.database = database;
    this.description = `${conn.user ?? '(default user)'}@${conn.host ?? '(local socket)'}:${conn.port}${database ? `/${database}` : ''}`;
    this.#session = {
      tools,
      database,
      env: async (appName) => {
        const env = await libpqEnv(this.#conn);
        if (appName) env.PGAPPNAME = appName;
        return env;
      },
      needsTxTimeoutFilter: async () => (await this.serverInfo()).versionNum < PG17 && this.#tools.major >= 17,
      serverInfo: () => this.serverInfo(),
      withClient: (db, fn) => this.#withClient(db, fn),
      ...(options.adaptForVerify ? { verifyAdapter: () => this.#lz4Adapter() } : {}),
    };
  }

  /** Bookkeeping connection: to the named database, else `postgres`. */
  async #withClient<T>(database: string | null, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = await connect(this.#conn, database ?? this.database ?? 'postgres');
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async #lz4Adapter(): Promise<{ stream: Lz4CompressionFilter; describe(): string[] } | null> {
    const hasLz4 = await this.#withClient(null, async (c) => {
      const r = await c.query<{ ok: boolean }>(
        "select coalesce((select 'lz4' = any(enumvals) from pg_settings where name = 'default_toast_compression'), true) as ok",
      );
      return r.rows[0]?.ok ?? true;
    });
    if (hasLz4) return null;
    const stream = new Lz4CompressionFilter();
    return {
      stream,
      describe: () =>
        stream.removed > 0
          ? [`SET COMPRESSION lz4 (x${stream.removed}): this server has no lz4, those columns were stored with pglz (same data)`]
          : [],
    };
  }

  async serverInfo(): Promise<ServerInfo> {
    if (this.#server) return this.#server;
    const info = await this.#withClient(null, async (c) => {
      const [row] = (
        await c.query<{ v: string; n: string }>("select current_setting('server_version') as v, current_setting('server_version_num') as n")
      ).rows;
      return { version: row!.v.split(' ')[0]!, versionNum: Number(row!.n), host: this.#conn.host };
    });
    this.#server = info;
    return info;
  }

  async databaseExists(name: string): Promise<boolean> {
    return this.#withClient(null, async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1);
  }

  async createEmptyDatabase(name: string): Promise<void> {
    await this.#withClient(null, async (c) => {
      try {
        await c.query(`create database ${quoteIdent(name)} template template0 encoding 'UTF8'`);
      } catch (err) {
        throw new ConnectionError(`creating database ${name} on ${this.description} failed: ${describeError(err)}`, {
          cause: err,
          hint: 'the user needs CREATEDB',
        });
      }
    });
  }

  async dropDatabase(name: string): Promise<void> {
    await this.#withClient(name === (this.database ?? 'postgres') ? 'postgres' : null, async (c) => {
      await c.query(`drop database if exists ${quoteIdent(name)} with (force)`);
    });
  }

  async createDatabaseFromArchive(head: Buffer, entryIds: readonly number[], filters: ArchiveFilters): Promise<ToolReport> {
    return createDatabaseFromArchive(this.#session, head, entryIds, filters);
  }

  async startGatedRestore(
    database: string,
    filters: ArchiveFilters,
    options: { readonly singleTransaction: boolean },
  ): Promise<GatedRestore> {
    return startGatedRestore(this.#session, database, filters, options);
  }

  async restoreFile(
    database: string,
    file: string,
    jobs: number,
    filters: ArchiveFilters,
    signal: AbortSignal | undefined,
    options: { readonly create: boolean },
  ): Promise<ToolReport> {
    return restoreFile(this.#session, database, file, jobs, filters, signal, options);
  }

  async applyGlobals(sql: Buffer, what?: string): Promise<GlobalsReport> {
    return applyGlobals(this.#session, sql, what);
  }

  async tableCounts(database: string): Promise<TableCounts> {
    return this.#withClient(database, async (c) => {
      // Counts must not be silently filtered by row-level security: fail instead.
      await c.query('set row_security = off');
      await c.query('begin transaction isolation level repeatable read read only');
      const rows = (
        await c.query<{ nspname: string; relname: string; relkind: string }>(
          `select n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%'
             and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
           order by 1, 2`,
        )
      ).rows;
      const rowCounts: Record<string, number> = {};
      for (const t of rows) {
        if (t.relkind !== 'r') continue;
        const [r] = (await c.query<{ n: string }>(`select count(*)::text as n from ${quoteIdent(t.nspname)}.${quoteIdent(t.relname)}`))
          .rows;
        rowCounts[`${t.nspname}.${t.relname}`] = Number(r!.n);
      }
      await c.query('commit');
      return { tables: rows.map((t) => `${t.nspname}.${t.relname}`), rowCounts };
    });
  }

  async close(): Promise<void> {
    // Connections are per operation; nothing is held open.
  }
}
