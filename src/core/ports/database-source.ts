/** What core needs from PostgreSQL: implemented in postgres/. */
export type ServerInfo = {
  readonly version: string;
  readonly versionNum: number;
  readonly host: string | null;
};

export type ExitStatus = {
  readonly code: number | null;
  readonly signal: string | null;
  /** Last lines of stderr, already redacted. */
  readonly stderrTail: string;
};

/**
 * Takes one chunk of a tool's output. `chunk` is a view of memory that the next read reuses: use or copy it before
 * returning. A returned promise holds the reading back until it settles (and `chunk` stays untouched until then);
 * throwing, or a rejected promise, stops the reading.
 */
export type OutputConsumer = (chunk: Buffer) => Promise<void> | undefined;

export type RunningTool = {
  readonly tool: string;
  readonly pid: number | undefined;
  /**
   * Delivers stdout to `consume` until its end (call once). Rejects with what `consume` threw, or when reading fails;
   * when reading stops early, the tool's stdout is closed, so it fails on its next write rather than blocking.
   */
  readOutput(consume: OutputConsumer): Promise<void>;
  /** Settles when the process exited and its stdio closed. Never rejects. */
  readonly exited: Promise<ExitStatus>;
  kill(signal?: NodeJS.Signals): void;
};

export type DumpRequest = {
  readonly database: string;
  readonly compression: string;
  readonly snapshot: string | null;
  readonly lockWaitTimeout: string | null;
};

export type Snapshot = {
  readonly id: string;
  /**
   * Counts every table's rows inside the snapshot, on the exporting session. Meant to run while pg_dump dumps the
   * same snapshot: counting first would put a scan of every table in front of the dump.
   */
  countRows(): Promise<Readonly<Record<string, number>>>;
  release(): Promise<void>;
};

export interface DatabaseSource {
  serverInfo(): Promise<ServerInfo>;
  /** pg_dump's version string, e.g. "18.1". */
  dumpToolVersion(): Promise<string>;
  listDatabases(): Promise<readonly string[]>;
  databaseSize(database: string): Promise<number | null>;
  /**
   * Export a snapshot in a REPEATABLE READ transaction and count every table's rows inside it; counting waits for
   * table locks at most `lockWaitTimeout` (as pg_dump's --lock-wait-timeout does).
   */
  exportSnapshot(database: string, lockWaitTimeout: string | null): Promise<Snapshot>;
  startDump(request: DumpRequest): Promise<RunningTool>;
  startGlobalsDump(): Promise<RunningTool>;
  /** A probe for the dump of `database` (absent: progress is not known, as with the fakes in tests). */
  progressProbe?(database: string): ProgressProbe;
  close(): Promise<void>;
}

/** One reading of how far pg_dump's data phase is, in the database's own bytes (table sizes from the catalog). */
export type ProgressSample = {
  /** Bytes of the tables pg_dump has finished, plus the copied share of the one it is copying. */
  readonly doneBytes: number;
  /** pg_table_size of every table whose data pg_dump dumps. */
  readonly totalBytes: number;
  /** schema.table being copied now; null between tables or when it cannot be seen. */
  readonly currentTable: string | null;
  readonly tablesDone: number;
  readonly tablesTotal: number;
  /** 'copy': pg_stat_progress_copy (14+, within a table); 'activity': only which table (13). */
  readonly method: 'copy' | 'activity';
};

/** Reads a running dump's progress from the server over its own connection; opened lazily by the first sample. */
export interface ProgressProbe {
  sample(): Promise<ProgressSample>;
  close(): Promise<void>;
}
