import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { CatalogEntry } from '../catalog/listing.ts';
import type { RestoreTarget, ToolReport } from '../ports/database-target.ts';
import {
  type ArchiveRestoreOptions,
  backupRef,
  type DatabaseRestoreResult,
  databaseResult,
  databaseToCreate,
  dropCreated,
  progressReporter,
  type RestoreDeps,
} from './common.ts';
import { resolveFilters } from './filters.ts';
import { downloadVerified, restoreParallel } from './restore-parallel.ts';
import { readArchiveHead, VerifyingReader } from './verifying-reader.ts';

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
  const result =
    o.jobs > 1 ? await restoreParallel(entry, m, ref, target, o, deps, started) : await restoreStreamed(entry, target, o, deps, started);
  deps.onEvent?.({ type: 'done', result });
  return result;
}

async function restoreStreamed(
  entry: CatalogEntry,
  target: RestoreTarget,
  o: ArchiveRestoreOptions,
  deps: RestoreDeps,
  started: number,
): Promise<DatabaseRestoreResult> {
  const m = entry.manifest!;
  const ref = backupRef(entry);
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
      const db = await databaseToCreate(head, target);
      createReport = await target.createDatabaseFromArchive(Buffer.concat(head.chunks), db.ids, filters);
      into = db.name;
      created = db.name;
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
    return databaseResult(
      {
        backup: ref,
        database: into,
        created: created !== null,
        mode: o.singleTransaction ? 'single-transaction' : 'per-statement',
        jobs: 1,
        selectedTables,
        filters,
        tool,
      },
      head,
      started,
    );
  } catch (err) {
    if (created !== null) await dropCreated(target, created, err);
    throw err;
  } finally {
    reader.destroy();
    if (copy) await rm(copy.work, { recursive: true, force: true });
  }
}
