import { type FileHandle, mkdtemp, open, rm, statfs } from 'node:fs/promises';
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
import { describeError } from '../errors.ts';
import { resolveFilters } from './filters.ts';
import { readRanges, worthRanging } from './ranged-download.ts';
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
  const { work, file, head } = await downloadVerified(entry, m, ref, o, deps);
  let createdName: string | null = null;
  try {
    const { filters, selectedTables } = resolveFilters(head.toc, o.selection);
    let into = o.database;
    if (o.create) {
      const db = await databaseToCreate(head, target);
      into = db.name;
      createdName = db.name;
    }
    deps.onEvent?.({ type: 'restoring', database: into, jobs: o.jobs });
    const tool = await target.restoreFile(o.create ? o.database : into, file, o.jobs, filters, deps.signal, { create: o.create });
    return databaseResult(
      { backup: ref, database: into, created: o.create, mode: 'parallel', jobs: o.jobs, selectedTables, filters, tool },
      head,
      started,
    );
  } catch (err) {
    if (createdName !== null) await dropCreated(target, createdName, err);
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Downloads the object into a private temp directory, checking length and SHA-256 against the manifest on the way. */
export async function downloadVerified(
  entry: CatalogEntry,
  m: Manifest,
  ref: BackupRef,
  o: ArchiveRestoreOptions,
  deps: RestoreDeps,
): Promise<{ work: string; file: string; head: ArchiveHead }> {
  const need = m.object.bytes + TEMP_SPACE_MARGIN;
  const free = await (deps.freeBytes ?? defaultFreeBytes)(o.tempDir);
  if (free < need) {
    throw new RestoreError(
      `not enough free space in ${o.tempDir} to download and verify the archive before restoring it: it needs ${m.object.bytes} bytes (+${TEMP_SPACE_MARGIN} margin), ${free} are free`,
      {
        hint: 'point --temp-dir at a larger disk; only a single-transaction restore without --jobs and --create streams without disk',
      },
    );
  }
  const work = await mkdtemp(path.join(o.tempDir, 'rds-s3-backup-restore-'));
  let reader: VerifyingReader | null = null;
  try {
    const file = path.join(work, `${entry.id}.dump`);
    const fh = await open(file, 'wx', 0o600);
    let head: ArchiveHead;
    try {
      // Large objects from S3 arrive as concurrent ranges, each written at its offset as it comes; the reader
      // still sees (and hashes, and checks) the bytes in order. Otherwise one read, written as it is checked.
      const ranged = worthRanging(m.object.bytes, deps.store.rangedReads) ? deps.store.rangedReads : null;
      const source = ranged
        ? readRanges(ranged, {
            key: m.object.key,
            bytes: m.object.bytes,
            signal: deps.signal,
            writeAt: (c, at) => writeAt(fh, c, at, o.tempDir),
          })
        : await deps.store.read(m.object.key);
      reader = new VerifyingReader(source, m.object, deps.signal);
      const inOrder = ranged === null;
      head = await readArchiveHead(reader);
      // Checked before the download: a selection the archive cannot satisfy fails in seconds.
      resolveFilters(head.toc, o.selection);
      let at = 0;
      const append = async (c: Buffer): Promise<void> => {
        await writeAt(fh, c, at, o.tempDir);
        at += c.length;
      };
      if (inOrder) for (const c of head.chunks) await append(c);
      const progress = progressReporter(deps, 'download', entry.database, m.object.bytes);
      const r = reader;
      await r.drain(async (c) => {
        if (inOrder) await append(c);
        progress(r.bytes);
      });
      progress(r.bytes);
      // No fsync: the copy lives only as long as this restore, and pg_restore reads it back from the page cache.
      // Syncing made every `--jobs` restore wait for the whole archive to reach the disk (seconds per GB).
    } finally {
      // First stop the ranges still in flight (on a failure), so that none writes into a closed handle.
      reader?.destroy();
      await fh.close();
    }
    deps.onEvent?.({ type: 'verified', backup: ref });
    return { work, file, head };
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

/** A positional write of the whole chunk (pwrite may write less than asked). */
async function writeAt(fh: FileHandle, chunk: Buffer, position: number, dir: string): Promise<void> {
  try {
    for (let done = 0; done < chunk.length; ) {
      const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, position + done);
      done += bytesWritten;
    }
  } catch (err) {
    throw new RestoreError(`writing the downloaded archive into ${dir} failed: ${describeError(err)}`, {
      cause: err,
      hint: 'point --temp-dir at a writable disk with room for the archive',
    });
  }
}
