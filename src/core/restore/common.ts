import { summarizeToc, type TocSummary } from '../archive/toc.ts';
import type { CatalogEntry } from '../catalog/listing.ts';
import { BackupToolError, describeError } from '../errors.ts';
import type { ArchiveFilters, ArchiveLister, GlobalsReport, RestoreTarget, ToolReport } from '../ports/database-target.ts';
import type { BackupStore } from '../ports/store.ts';
import { databaseEntries, type RestoreSelectionRequest } from './filters.ts';
import type { ArchiveHead } from './verifying-reader.ts';

/** The restore cannot go ahead as asked (target state, disk space, ...). */
export class RestoreError extends BackupToolError {}

export type BackupRef = {
  readonly id: string;
  readonly kind: 'database' | 'globals';
  readonly database: string | null;
  readonly key: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly startedAt: string;
  readonly serverVersion: string;
  readonly pgDumpVersion: string;
};

export type RestoreEvent =
  | { readonly type: 'selected'; readonly backup: BackupRef; readonly skipped: number }
  | {
      readonly type: 'progress';
      readonly phase: 'restore' | 'download';
      readonly database: string | null;
      readonly bytes: number;
      readonly total: number;
      readonly elapsedMs: number;
    }
  | { readonly type: 'verified'; readonly backup: BackupRef }
  | { readonly type: 'restoring'; readonly database: string; readonly jobs: number }
  | { readonly type: 'globals'; readonly report: GlobalsReport }
  | { readonly type: 'done'; readonly result: DatabaseRestoreResult };

export type DatabaseRestoreResult = {
  readonly backup: BackupRef;
  /** The database that now holds the data. */
  readonly database: string;
  readonly created: boolean;
  readonly mode: 'single-transaction' | 'per-statement' | 'parallel';
  readonly jobs: number;
  readonly sha256Verified: true;
  readonly selectedTables: readonly string[];
  readonly filters: ArchiveFilters;
  /** The archive's TOC as read during the restore (null: newer archive version than this tool reads). */
  readonly archiveToc: TocSummary | null;
  readonly tool: ToolReport;
  readonly durationMs: number;
};

export type GlobalsRestoreResult = { readonly backup: BackupRef; readonly report: GlobalsReport; readonly durationMs: number };

export type RestoreDeps = {
  readonly store: BackupStore;
  /** May be null only for listOnly. */
  readonly target: RestoreTarget | null;
  readonly lister: ArchiveLister;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((e: RestoreEvent) => void) | undefined;
  readonly progressIntervalMs?: number | undefined;
  /** Free bytes in a directory (tests replace it). */
  readonly freeBytes?: (dir: string) => Promise<number>;
};

export type ArchiveRestoreOptions = {
  /** Database to restore into; with create, the maintenance database the new one is created from. */
  readonly database: string;
  readonly create: boolean;
  readonly singleTransaction: boolean;
  readonly jobs: number;
  readonly selection: RestoreSelectionRequest;
  readonly tempDir: string;
};

export function backupRef(entry: CatalogEntry): BackupRef {
  const m = entry.manifest!;
  return {
    id: entry.id,
    kind: entry.kind,
    database: entry.database,
    key: m.object.key,
    bytes: m.object.bytes,
    sha256: m.object.sha256,
    startedAt: m.startedAt,
    serverVersion: m.server.version,
    pgDumpVersion: m.pgDump.version,
  };
}

export function progressReporter(
  deps: RestoreDeps,
  phase: 'restore' | 'download',
  database: string | null,
  total: number,
): (bytes: number) => void {
  const started = Date.now();
  let last = 0;
  const interval = deps.progressIntervalMs ?? 500;
  return (bytes) => {
    const t = Date.now();
    if (t - last < interval && bytes < total) return;
    last = t;
    deps.onEvent?.({ type: 'progress', phase, database, bytes, total, elapsedMs: t - started });
  };
}

/** The result of a database restore, the same shape whether it streamed or ran pg_restore -j. */
export function databaseResult(
  fields: Omit<DatabaseRestoreResult, 'sha256Verified' | 'archiveToc' | 'durationMs'>,
  head: ArchiveHead,
  started: number,
): DatabaseRestoreResult {
  return { ...fields, sha256Verified: true, archiveToc: head.toc ? summarizeToc(head.toc) : null, durationMs: Date.now() - started };
}

/** --create: the database the archive names, which must not exist yet (like pg_restore -C). */
export async function databaseToCreate(head: ArchiveHead, target: RestoreTarget): Promise<{ name: string; ids: readonly number[] }> {
  const db = head.toc ? databaseEntries(head.toc) : undefined;
  if (!db)
    throw new RestoreError("--create needs the archive's DATABASE entry, and this archive has none (or is newer than this tool reads)");
  if (await target.databaseExists(db.name)) {
    throw new RestoreError(`database ${JSON.stringify(db.name)} already exists on ${target.description}`, {
      hint: '--create makes the database under its original name (like pg_restore -C); drop it first, or restore into it without --create (--clean replaces its objects in one transaction)',
    });
  }
  return { name: db.name, ids: db.ids };
}

export async function dropCreated(target: RestoreTarget, name: string, cause: unknown): Promise<void> {
  try {
    await target.dropDatabase(name);
  } catch (err) {
    throw new RestoreError(
      `the restore failed (${describeError(cause)}) and dropping the database ${name} it had created failed too: ${describeError(err)}`,
      { cause: err },
    );
  }
}
