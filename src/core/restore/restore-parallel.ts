import { mkdtemp, open, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { CatalogEntry } from '../catalog/listing.ts';
import type { Manifest } from '../catalog/manifest.ts';
import type { RestoreTarget } from '../ports/database-target.ts';
import {
  type ArchiveRestoreOptions,
  type BackupRef,
  type DatabaseRestoreResult,
  databaseResult,
  databaseToCreate,
  dropCreated,
  progressReporter,
  type RestoreDeps,
  RestoreError,
} from './common.ts';
import { resolveFilters } from './filters.ts';
import { type ArchiveHead, readArchiveHead, VerifyingReader } from './verifying-reader.ts';

/** Left free beside the downloaded archive, so a restore never fills the disk to the last byte. */
const TEMP_SPACE_MARGIN = 64 * 1024 * 1024;

async function defaultFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** jobs > 1: download to a temporary file (verified on the way), then pg_restore -j from it. */
export async function restoreParallel(
  entry: CatalogEntry,
  m: Manifest,
  ref: BackupRef,
  target: RestoreTarget,
  o: ArchiveRestoreOptions,
  deps: RestoreDeps,
  started: number,
): Promise<DatabaseRestoreResult> {
  const need = m.object.bytes + TEMP_SPACE_MARGIN;
  const free = await (deps.freeBytes ?? defaultFreeBytes)(o.tempDir);
  if (free < need) {
    throw new RestoreError(
      `not enough free space in ${o.tempDir} for a parallel restore: the archive needs ${m.object.bytes} bytes (+${TEMP_SPACE_MARGIN} margin), ${free} are free`,
      {
        hint: 'point --temp-dir at a larger disk, or restore without --jobs (streams, needs no disk)',
      },
    );
  }
  const work = await mkdtemp(path.join(o.tempDir, 'rds-s3-backup-restore-'));
  const reader = new VerifyingReader(await deps.store.read(m.object.key), m.object, deps.signal);
  let createdName: string | null = null;
  try {
    const file = path.join(work, `${entry.id}.dump`);
    const fh = await open(file, 'wx', 0o600);
    let head: ArchiveHead;
    let resolved: ReturnType<typeof resolveFilters>;
    try {
      head = await readArchiveHead(reader);
      // Checked before the download: a selection the archive cannot satisfy fails in seconds.
      resolved = resolveFilters(head.toc, o.selection);
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
    const { filters, selectedTables } = resolved;
    let into = o.database;
    if (o.create) {
      const db = await databaseToCreate(head, target);
      into = db.name;
      createdName = db.name;
    }
    deps.onEvent?.({ type: 'restoring', database: into, jobs: o.jobs });
    const tool = await target.restoreFile(o.create ? o.database : into, file, o.jobs, filters, deps.signal, { create: o.create });
    const result = databaseResult(
      { backup: ref, database: into, created: o.create, mode: 'parallel', jobs: o.jobs, selectedTables, filters, tool },
      head,
      started,
    );
    deps.onEvent?.({ type: 'done', result });
    return result;
  } catch (err) {
    if (createdName !== null) await dropCreated(target, createdName, err);
    throw err;
  } finally {
    reader.destroy();
    await rm(work, { recursive: true, force: true });
  }
}
