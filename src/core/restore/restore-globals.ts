import type { CatalogEntry } from '../catalog/listing.ts';
import type { RestoreTarget } from '../ports/database-target.ts';
import type { BackupStore } from '../ports/store.ts';
import { backupRef, type GlobalsRestoreResult, type RestoreDeps, RestoreError } from './common.ts';
import { VerifyingReader } from './verifying-reader.ts';

/** The globals object is plain SQL read into memory whole (verified before a statement runs): bounded. */
export const GLOBALS_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The globals object, read and verified completely before a single statement runs (restore and verify both).
 * Its size is checked against the manifest first: nothing is read when it is larger than the cap.
 */
export async function readGlobalsObject(entry: CatalogEntry, store: BackupStore, signal: AbortSignal | undefined): Promise<Buffer> {
  const m = entry.manifest!;
  if (m.object.bytes > GLOBALS_MAX_BYTES)
    throw new RestoreError(
      `globals object ${m.object.key} is ${m.object.bytes} bytes; refusing to load more than ${GLOBALS_MAX_BYTES} into memory`,
    );
  const reader = new VerifyingReader(await store.read(m.object.key), m.object, signal);
  const chunks: Buffer[] = [];
  try {
    await reader.drain((c) => void chunks.push(c));
  } finally {
    reader.destroy();
  }
  return Buffer.concat(chunks);
}

/** Reads and verifies the globals object completely, then applies it. */
export async function restoreGlobals(entry: CatalogEntry, target: RestoreTarget, deps: RestoreDeps): Promise<GlobalsRestoreResult> {
  const started = Date.now();
  const sql = await readGlobalsObject(entry, deps.store, deps.signal);
  deps.onEvent?.({ type: 'verified', backup: backupRef(entry) });
  const report = await target.applyGlobals(sql);
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
