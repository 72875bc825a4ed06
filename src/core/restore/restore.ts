import { listCatalog, type CatalogEntry } from '../catalog/listing.ts';
import { ExitCode } from '../errors.ts';
import type { RestoreTarget } from '../ports/database-target.ts';
import {
  backupRef,
  type BackupRef,
  type DatabaseRestoreResult,
  type GlobalsRestoreResult,
  type RestoreDeps,
  RestoreError,
} from './common.ts';
import { resolveFilters, type RestoreSelectionRequest } from './filters.ts';
import { restoreArchive } from './restore-archive.ts';
import { restoreGlobals } from './restore-globals.ts';
import { idFromKey, selectBackup, type BackupSelector } from './select-backup.ts';
import { readArchiveHead, VerifyingReader } from './verifying-reader.ts';

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
