import type { ServerInfo } from './database-source.ts';

/** What restore and verify need from a PostgreSQL server: implemented in postgres/restore-target.ts. */

export type ArchiveFilters = {
  /** pg_restore -n: only objects in these schemas. */
  readonly schemas: readonly string[];
  /** pg_restore -t: only these tables (bare names; combine with schemas to qualify). */
  readonly tables: readonly string[];
  /** pg_restore -O. */
  readonly noOwner: boolean;
  /** pg_restore -x. */
  readonly noAcl: boolean;
  /** pg_restore --clean --if-exists: drop each object before creating it (inside the transaction). */
  readonly clean: boolean;
};

/** How a finished pg tool run ended, for reports. */
export type ToolReport = {
  /** Errors PostgreSQL reported that were tolerated on purpose (e.g. SET transaction_timeout on a server < 17). */
  readonly toleratedErrors: number;
  /** Statements removed from the restore script on purpose (same reason), with why. */
  readonly filtered: readonly string[];
  readonly notes: readonly string[];
};

/**
 * A restore that cannot commit until told to: archive bytes go in through `write`, and nothing becomes visible
 * in the target until `commit()` — which the caller only calls after the whole object proved intact.
 */
export interface GatedRestore {
  /** Resolves once the bytes are accepted (back-pressure). Bytes after pg_restore stopped reading are dropped. */
  write(chunk: Buffer): Promise<void>;
  /** No more archive bytes. */
  endInput(): Promise<void>;
  /** Settles (never rejects) as soon as the restore failed on its own (tool error, SQL error, connection lost). */
  readonly failure: Promise<Error>;
  /** Let the transaction commit; resolves when it did, rejects when the tools failed (then nothing committed). */
  commit(): Promise<ToolReport>;
  /** Make sure nothing commits: stop the tools, drop the session (its transaction rolls back). Idempotent. */
  abort(reason: Error): Promise<void>;
}

export type GlobalsReport = {
  /** Errors that leave the intended state in place, e.g. `role "x" already exists`. */
  readonly expectedErrors: readonly string[];
  readonly errors: readonly string[];
};

export type TableCounts = {
  /** Ordinary tables (relkind r) and partitioned tables (p) as schema.table, extension members excluded. */
  readonly tables: readonly string[];
  /** Exact count(*) of each ordinary table. */
  readonly rowCounts: Readonly<Record<string, number>>;
};

export interface RestoreTarget {
  /** user@host:port/db without any secret, for messages. */
  readonly description: string;
  /** The database named by the target (where a plain restore goes; the maintenance database with --create). */
  readonly database: string | null;
  serverInfo(): Promise<ServerInfo>;
  databaseExists(name: string): Promise<boolean>;
  createEmptyDatabase(name: string): Promise<void>;
  /** Runs the archive's own DATABASE entries (pg_restore --create) from the archive's first bytes (its TOC). */
  createDatabaseFromArchive(head: Buffer, entryIds: readonly number[], filters: ArchiveFilters): Promise<ToolReport>;
  /** DROP DATABASE ... WITH (FORCE): only for databases this run created. */
  dropDatabase(name: string): Promise<void>;
  /** singleTransaction false: pg_restore without -1 (objects commit one by one; the gate still holds the tail). */
  startGatedRestore(database: string, filters: ArchiveFilters, options: { readonly singleTransaction: boolean }): Promise<GatedRestore>;
  /**
   * pg_restore -j from a local, already verified file (not in one transaction: pg_restore cannot do both).
   * With create, `database` is the maintenance database and the archive's own database is created (pg_restore -C).
   */
  restoreFile(
    database: string,
    file: string,
    jobs: number,
    filters: ArchiveFilters,
    signal: AbortSignal | undefined,
    options: { readonly create: boolean },
  ): Promise<ToolReport>;
  /**
   * Runs a plain SQL script (globals) statement by statement, psql in restricted mode; refuses (UnsafeContentError,
   * before anything runs) a script with psql meta-commands. `what` names the object in that error.
   */
  applyGlobals(sql: Buffer, what?: string): Promise<GlobalsReport>;
  tableCounts(database: string): Promise<TableCounts>;
  close(): Promise<void>;
}

/** pg_restore -l over the archive's first bytes, with the same filters a restore would use. */
export type ArchiveLister = (head: Buffer, filters: ArchiveFilters) => Promise<string[]>;
