import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { listCatalog, type CatalogEntry } from '../catalog/listing.ts';
import { summarizeToc, type TocSummary } from '../archive/toc.ts';
import { BackupToolError, ExitCode, describeError } from '../errors.ts';
import type { Manifest } from '../catalog/manifest.ts';
import { databaseEntries, resolveFilters, type RestoreSelectionRequest } from './filters.ts';
import { readArchiveHead, VerifyingReader, type ArchiveHead } from './verifying-reader.ts';
import type { ArchiveFilters, ArchiveLister, GlobalsReport, RestoreTarget, ToolReport } from '../ports/database-target.ts';
import { idFromKey, selectBackup, type BackupSelector } from './select-backup.ts';
import type { BackupStore } from '../ports/store.ts';

/** The restore cannot go ahead as asked (target state, disk space, ...). */
export class RestoreError extends BackupToolError {}

export type RestorePlan = {
  readonly selector: BackupSelector;
  /** The backed-up database; null with --globals alone (or when --key names it). */
  readonly database: string | null;
  /** Restore the roles object first. */
  readonly globals: boolean;
  /** Where to restore: the target's database (null: same name as the backup). With create: the maintenance database. */
  readonly targetDatabase: string | null;
  readonly create: boolean;
  readonly singleTransaction: boolean;
  /** > 1: download to a temporary file, verify, then pg_restore -j. */
  readonly jobs: number;
  readonly selection: RestoreSelectionRequest;
  readonly tempDir: string;
  /** Dry run: print the archive's TOC as pg_restore would restore it; touches no server. */
  readonly listOnly: boolean;
};

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

export type RestoreReport = {
  readonly ok: boolean;
  readonly from: string;
  readonly target: string | null;
  readonly targetServerVersion: string | null;
  readonly globals: GlobalsRestoreResult | null;
  readonly database: DatabaseRestoreResult | null;
  /** Newer backups that --latest/--at passed over because they are incomplete or invalid. */
  readonly passedOver: readonly {
    readonly id: string;
    readonly kind: 'database' | 'globals';
    readonly status: string;
    readonly problem: string | null;
  }[];
  /** --list: pg_restore -l output for the selection. */
  readonly list: { readonly backup: BackupRef; readonly items: readonly string[] } | null;
};

export type RestoreDeps = {
  readonly store: BackupStore;
  /** May be null only for listOnly. */
  readonly target: RestoreTarget | null;
  readonly lister: ArchiveLister;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: RestoreEvent) => void;
  readonly progressIntervalMs?: number;
  /** Free bytes in a directory (tests replace it). */
  readonly freeBytes?: (dir: string) => Promise<number>;
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

export const GLOBALS_MAX_BYTES = 256 * 1024 * 1024;
/** Left free beside the downloaded archive, so a restore never fills the disk to the last byte. */
const TEMP_SPACE_MARGIN = 64 * 1024 * 1024;

export async function defaultFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

function progressReporter(
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

export async function runRestore(plan: RestorePlan, deps: RestoreDeps): Promise<RestoreReport> {
  let database = plan.database;
  let globalsWanted = plan.globals;
  if (plan.selector.by === 'key' && database === null && !globalsWanted) {
    // A key names its database (or the globals folder) itself.
    const named = idFromKey(deps.store.prefix, plan.selector.key);
    if (named?.kind === 'globals') globalsWanted = true;
    else if (named?.database) database = named.database;
    else throw new RestoreError('--key with a bare id needs --database (or --globals)', { exitCode: ExitCode.usage });
  }
  const passedOver: RestoreReport['passedOver'][number][] = [];
  const pick = (list: readonly CatalogEntry[], kind: 'database' | 'globals'): CatalogEntry => {
    const sel = selectBackup(list, plan.selector, { kind, database: kind === 'globals' ? null : database }, deps.store.prefix);
    passedOver.push(...sel.skipped.map((e) => ({ id: e.id, kind: e.kind, status: e.status, problem: e.problem })));
    deps.onEvent?.({ type: 'selected', backup: backupRef(sel.entry), skipped: sel.skipped.length });
    return sel.entry;
  };
  // One listing per folder: the database's, and the globals folder when asked for.
  const dbEntries = database !== null ? await listCatalog(deps.store, { database }) : [];
  const globalsEntries = globalsWanted ? await listCatalog(deps.store, { kind: 'globals' }) : [];

  if (plan.listOnly) {
    if (database === null)
      throw new RestoreError("--list shows a database archive's table of contents: give --database (the globals object is plain SQL)", {
        exitCode: ExitCode.usage,
      });
    const entry = pick(dbEntries, 'database');
    const items = await listOnly(entry, plan, deps);
    return {
      ok: true,
      from: deps.store.url,
      target: null,
      targetServerVersion: null,
      globals: null,
      database: null,
      passedOver,
      list: { backup: backupRef(entry), items },
    };
  }

  const target = deps.target;
  if (!target) throw new RestoreError('no restore target (--target)', { exitCode: ExitCode.usage });
  // Choose before connecting (a typo in --database fails fast), connect before downloading (so does a bad password).
  const globalsEntry = globalsWanted ? pick(globalsEntries, 'globals') : null;
  const dbEntry = database !== null ? pick(dbEntries, 'database') : null;
  const server = await target.serverInfo();
  // Globals first: the database's objects are owned by and granted to those roles.
  const globals = globalsEntry ? await restoreGlobals(globalsEntry, target, deps) : null;
  const restored = dbEntry ? await restoreDatabase(dbEntry, target, plan, deps) : null;
  return {
    ok: true,
    from: deps.store.url,
    target: target.description,
    targetServerVersion: server.version,
    globals,
    database: restored,
    passedOver,
    list: null,
  };
}

async function listOnly(entry: CatalogEntry, plan: RestorePlan, deps: RestoreDeps): Promise<string[]> {
  const m = entry.manifest!;
  const reader = new VerifyingReader(await deps.store.read(m.object.key), m.object, deps.signal);
  try {
    const head = await readArchiveHead(reader);
    const { filters } = resolveFilters(head.toc, plan.selection);
    return await deps.lister(Buffer.concat(head.chunks), filters);
  } finally {
    reader.destroy();
  }
}

async function restoreGlobals(entry: CatalogEntry, target: RestoreTarget, deps: RestoreDeps): Promise<GlobalsRestoreResult> {
  const started = Date.now();
  const m = entry.manifest!;
  if (m.object.bytes > GLOBALS_MAX_BYTES)
    throw new RestoreError(
      `globals object ${m.object.key} is ${m.object.bytes} bytes; refusing to load more than ${GLOBALS_MAX_BYTES} into memory`,
    );
  const reader = new VerifyingReader(await deps.store.read(m.object.key), m.object, deps.signal);
  const chunks: Buffer[] = [];
  try {
    // Small: read and verify it completely before a single statement runs.
    await reader.drain((c) => void chunks.push(c));
  } finally {
    reader.destroy();
  }
  deps.onEvent?.({ type: 'verified', backup: backupRef(entry) });
  const report = await target.applyGlobals(Buffer.concat(chunks), `globals backup ${entry.id}`);
  deps.onEvent?.({ type: 'globals', report });
  if (report.errors.length > 0) {
    throw new RestoreError(
      `applying globals ${entry.id} to ${target.description}: ${report.errors.length} statement(s) failed (the others were applied):\n${report.errors.map((e) => `    ${e}`).join('\n')}`,
      {
        hint: 'fix the cause and re-run (existing roles are kept and reported, not failures); or restore the database with --no-owner --no-acl, which needs no roles',
      },
    );
  }
  return { backup: backupRef(entry), report, durationMs: Date.now() - started };
}

export type ArchiveRestoreOptions = {
  /** Database to restore into; with create, the maintenance database the new one is created from. */
  readonly database: string;
  readonly create: boolean;
  readonly singleTransaction: boolean;
  readonly jobs: number;
  readonly selection: RestoreSelectionRequest;
  readonly tempDir: string;
};

async function restoreDatabase(
  entry: CatalogEntry,
  target: RestoreTarget,
  plan: RestorePlan,
  deps: RestoreDeps,
): Promise<DatabaseRestoreResult> {
  const m = entry.manifest!;
  if (m.format !== 'custom') throw new RestoreError(`backup ${entry.id} is not a custom-format archive (${m.format})`);
  const database = plan.create ? (plan.targetDatabase ?? 'postgres') : (plan.targetDatabase ?? entry.database!);
  return restoreArchive(
    entry,
    target,
    {
      database,
      create: plan.create,
      singleTransaction: plan.singleTransaction,
      jobs: plan.jobs,
      selection: plan.selection,
      tempDir: plan.tempDir,
    },
    deps,
  );
}

/** Restores one database backup: streamed through the commit gate, or (jobs > 1) downloaded, verified, then pg_restore -j. */
export async function restoreArchive(
  entry: CatalogEntry,
  target: RestoreTarget,
  o: ArchiveRestoreOptions,
  deps: RestoreDeps,
): Promise<DatabaseRestoreResult> {
  const started = Date.now();
  const m = entry.manifest!;
  const ref = backupRef(entry);
  if (o.jobs > 1) return restoreParallel(entry, m, ref, target, o, deps, started);
  // --create runs the archive's DATABASE entry before the data, and without one transaction every statement
  // commits as it goes: nothing from the object may run before all of it is verified, so download it first.
  // (Only the single-transaction stream can run while the object arrives: the commit gate holds its COMMIT.)
  const copy = o.create || !o.singleTransaction ? await downloadVerified(entry, m, ref, o, deps) : null;
  // The local copy is read back through the same check: a temp file changed meanwhile is caught too.
  const reader = new VerifyingReader(copy ? createReadStream(copy.file) : await deps.store.read(m.object.key), m.object, deps.signal);
  let created: string | null = null;
  try {
    const head = await readArchiveHead(reader);
    const { filters, selectedTables } = resolveFilters(head.toc, o.selection);
    let into = o.database;
    let createReport: ToolReport | null = null;
    if (o.create) {
      const made = await createFromArchive(head, target, filters);
      into = made.name;
      created = made.name;
      createReport = made.report;
    }
    const progress = progressReporter(deps, 'restore', entry.database, m.object.bytes);
    const gate = await target.startGatedRestore(into, filters, { singleTransaction: o.singleTransaction });
    let tool: ToolReport;
    try {
      const pump = (async () => {
        for (const c of head.chunks) await gate.write(c);
        progress(reader.bytes);
        for (;;) {
          const c = await reader.next();
          if (!c) break;
          await gate.write(c);
          progress(reader.bytes);
        }
        // The gate opens only after this: every byte arrived and the SHA-256 matches the manifest.
        reader.finish();
        await gate.endInput();
      })();
      pump.catch(() => undefined);
      const failed = await Promise.race([pump.then(() => null), gate.failure]);
      if (failed) throw failed;
      if (!copy) deps.onEvent?.({ type: 'verified', backup: ref });
      tool = await gate.commit();
      if (createReport) tool = { ...tool, filtered: [...createReport.filtered.map((f) => `${f} (--create)`), ...tool.filtered] };
    } catch (err) {
      reader.destroy();
      await gate.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    const result: DatabaseRestoreResult = {
      backup: ref,
      database: into,
      created: created !== null,
      mode: o.singleTransaction ? 'single-transaction' : 'per-statement',
      jobs: 1,
      sha256Verified: true,
      selectedTables,
      filters,
      archiveToc: head.toc ? summarizeToc(head.toc) : null,
      tool,
      durationMs: Date.now() - started,
    };
    deps.onEvent?.({ type: 'done', result });
    return result;
  } catch (err) {
    if (created !== null) await dropCreated(target, created, err);
    throw err;
  } finally {
    reader.destroy();
    if (copy) await rm(copy.work, { recursive: true, force: true });
  }
}

async function createFromArchive(
  head: ArchiveHead,
  target: RestoreTarget,
  filters: ArchiveFilters,
): Promise<{ name: string; report: ToolReport }> {
  const db = head.toc ? databaseEntries(head.toc) : undefined;
  if (!db)
    throw new RestoreError("--create needs the archive's DATABASE entry, and this archive has none (or is newer than this tool reads)");
  if (await target.databaseExists(db.name)) {
    throw new RestoreError(`database ${JSON.stringify(db.name)} already exists on ${target.description}`, {
      hint: '--create makes the database under its original name (like pg_restore -C); drop it first, or restore into it without --create (--clean replaces its objects in one transaction)',
    });
  }
  const report = await target.createDatabaseFromArchive(Buffer.concat(head.chunks), db.ids, filters);
  return { name: db.name, report };
}

async function dropCreated(target: RestoreTarget, name: string, cause: unknown): Promise<void> {
  try {
    await target.dropDatabase(name);
  } catch (err) {
    throw new RestoreError(
      `the restore failed (${describeError(cause)}) and dropping the database ${name} it had created failed too: ${describeError(err)}`,
      { cause: err },
    );
  }
}

async function restoreParallel(
  entry: CatalogEntry,
  m: Manifest,
  ref: BackupRef,
  target: RestoreTarget,
  o: ArchiveRestoreOptions,
  deps: RestoreDeps,
  started: number,
): Promise<DatabaseRestoreResult> {
  const { work, file, head } = await downloadVerified(entry, m, ref, o, deps);
  let createdName: string | null = null;
  try {
    const { filters, selectedTables } = resolveFilters(head.toc, o.selection);
    let into = o.database;
    if (o.create) {
      const db = head.toc ? databaseEntries(head.toc) : undefined;
      if (!db) throw new RestoreError("--create needs the archive's DATABASE entry, and this archive has none");
      if (await target.databaseExists(db.name))
        throw new RestoreError(`database ${JSON.stringify(db.name)} already exists on ${target.description}`, {
          hint: 'drop it first, or restore into it without --create',
        });
      into = db.name;
      createdName = db.name;
    }
    deps.onEvent?.({ type: 'restoring', database: into, jobs: o.jobs });
    const tool = await target.restoreFile(o.create ? o.database : into, file, o.jobs, filters, deps.signal, { create: o.create });
    const result: DatabaseRestoreResult = {
      backup: ref,
      database: into,
      created: o.create,
      mode: 'parallel',
      jobs: o.jobs,
      sha256Verified: true,
      selectedTables,
      filters,
      archiveToc: head.toc ? summarizeToc(head.toc) : null,
      tool,
      durationMs: Date.now() - started,
    };
    deps.onEvent?.({ type: 'done', result });
    return result;
  } catch (err) {
    if (createdName !== null) await dropCreated(target, createdName, err);
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Downloads the object into a private temp directory, checking length and SHA-256 against the manifest on the way. */
async function downloadVerified(
  entry: CatalogEntry,
  m: Manifest,
  ref: BackupRef,
  o: ArchiveRestoreOptions,
  deps: RestoreDeps,
): Promise<{ work: string; file: string; head: ArchiveHead }> {
  const tempDir = o.tempDir;
  const need = m.object.bytes + TEMP_SPACE_MARGIN;
  const free = await (deps.freeBytes ?? defaultFreeBytes)(tempDir);
  if (free < need) {
    throw new RestoreError(
      `not enough free space in ${tempDir} to download and verify the archive before restoring it: it needs ${m.object.bytes} bytes (+${TEMP_SPACE_MARGIN} margin), ${free} are free`,
      {
        hint: 'point --temp-dir at a larger disk; only a single-transaction restore without --jobs and --create streams without disk',
      },
    );
  }
  const work = await mkdtemp(path.join(tempDir, 'rds-s3-backup-restore-'));
  const reader = new VerifyingReader(await deps.store.read(m.object.key), m.object, deps.signal);
  try {
    const file = path.join(work, `${entry.id}.dump`);
    const fh = await open(file, 'wx', 0o600);
    let head: ArchiveHead;
    try {
      head = await readArchiveHead(reader);
      // Checked before the download: a selection the archive cannot satisfy fails in seconds.
      resolveFilters(head.toc, o.selection);
      for (const c of head.chunks) await fh.write(c);
      const progress = progressReporter(deps, 'download', entry.database, m.object.bytes);
      await reader.drain(async (c) => {
        await fh.write(c);
        progress(reader.bytes);
      });
      progress(reader.bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    deps.onEvent?.({ type: 'verified', backup: ref });
    return { work, file, head };
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  } finally {
    reader.destroy();
  }
}
