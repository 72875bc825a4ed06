import { randomBytes } from 'node:crypto';
import { summarizeToc } from '../archive/toc.ts';
import { listCatalog, type CatalogEntry } from '../catalog/listing.ts';
import { ArchiveFormatError, ExitCode, IntegrityError, ToolProcessError, describeError } from '../errors.ts';
import { type BackupRef, backupRef, type RestoreEvent, RestoreError } from './common.ts';
import { restoreArchive } from './restore-archive.ts';
import { readGlobalsObject } from './restore-globals.ts';
import { readArchiveHead, VerifyingReader } from './verifying-reader.ts';
import { readRanges, worthRanging } from './ranged-download.ts';
import type { RestoreTarget } from '../ports/database-target.ts';
import { idFromKey, selectBackup, type BackupSelector } from './select-backup.ts';
import type { BackupStore } from '../ports/store.ts';
import { writeVerifyRecord, type VerifyRecord } from '../catalog/verify-record.ts';
import type { Verdict } from '../catalog/verdict.ts';
import { missingCapabilities } from './missing-capability.ts';
import { type CompareResult, compareRestored, compareToc } from './verify-compare.ts';

export type VerifyPlan = {
  readonly selector: BackupSelector;
  readonly database: string | null;
  readonly integrityOnly: boolean;
  readonly record: boolean;
  readonly tempDir: string;
};

/** A server to restore into: a throwaway embedded one, or the user's scratch server (--target). */
type Scratch = {
  readonly target: RestoreTarget;
  readonly kind: 'embedded' | 'target';
  readonly version: string;
  /** Why this server (e.g. which major was picked and why). */
  readonly note: string;
  /** What isolation the server and the restore ran under (throwaway servers), in words. */
  readonly isolation?: readonly string[];
  stop(): Promise<void>;
};

/** Gets a scratch server for a backup taken from a server of this major version. */
export type ScratchProvider = (backupServerMajor: number) => Promise<Scratch>;

export type VerifyEvent =
  | RestoreEvent
  | {
      readonly type: 'scratch';
      readonly kind: 'embedded' | 'target';
      readonly version: string;
      readonly note: string;
      readonly isolation: readonly string[];
    }
  | { readonly type: 'checked'; readonly ok: boolean; readonly summary: string };

export type VerifyDeps = {
  readonly store: BackupStore;
  /** Not needed for integrity-only. */
  readonly scratch: ScratchProvider | null;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((e: VerifyEvent) => void) | undefined;
  readonly progressIntervalMs?: number | undefined;
  readonly now?: () => Date;
};

export type VerifyReport = {
  /** verdict === 'verified'. */
  readonly ok: boolean;
  readonly verdict: Verdict;
  /** With could-not-verify: what the verifying server lacked. */
  readonly missing: readonly string[];
  readonly mode: 'restore' | 'integrity';
  readonly backup: BackupRef;
  readonly summary: string;
  readonly checks: VerifyRecord['checks'];
  readonly mismatches: readonly string[];
  readonly notes: readonly string[];
  readonly server: VerifyRecord['server'];
  readonly verifiedAt: string;
  readonly durationMs: number;
  /** Where the result was written; null with --no-record. */
  readonly recordKey: string | null;
};

function isVerdict(err: unknown): boolean {
  return err instanceof IntegrityError || err instanceof ArchiveFormatError || err instanceof ToolProcessError;
}

/** The globals backup taken nearest in time to the database backup, if any (roles its objects are owned by). */
function nearestGlobals(entries: readonly CatalogEntry[], at: Date): CatalogEntry | undefined {
  const complete = entries.filter((e) => e.status === 'complete');
  complete.sort((a, b) => Math.abs(a.startedAt.getTime() - at.getTime()) - Math.abs(b.startedAt.getTime() - at.getTime()));
  return complete[0];
}

export async function runVerify(plan: VerifyPlan, deps: VerifyDeps): Promise<VerifyReport> {
  const now = deps.now ?? (() => new Date());
  let database = plan.database;
  if (database === null && plan.selector.by === 'key') {
    const named = idFromKey(deps.store.prefix, plan.selector.key);
    if (!named?.database)
      throw new RestoreError('verify checks database backups: give --database, or a --key of a database backup', {
        exitCode: ExitCode.usage,
      });
    database = named.database;
  }
  if (database === null) throw new RestoreError('--database is required', { exitCode: ExitCode.usage });
  const entries = await listCatalog(deps.store, { database });
  const sel = selectBackup(entries, plan.selector, { kind: 'database', database }, deps.store.prefix);
  const entry = sel.entry;
  const m = entry.manifest!;
  const ref = backupRef(entry);
  deps.onEvent?.({ type: 'selected', backup: ref, skipped: sel.skipped.length });
  const started = Date.now();

  const mismatches: string[] = [];
  const notes: string[] = [];
  let checks: VerifyRecord['checks'] = { sha256: null, toc: null, restore: null, tables: null, rowCounts: null };
  let server: VerifyRecord['server'] = null;
  let compared: CompareResult | null = null;
  let missing: string[] = [];
  try {
    if (plan.integrityOnly) {
      // Nothing is restored, so nothing waits for order: large S3 objects arrive as concurrent ranges (the reader
      // still hashes and checks them in order), as for restore --jobs.
      const ranged = worthRanging(m.object.bytes, deps.store.rangedReads) ? deps.store.rangedReads : null;
      const source = ranged
        ? readRanges(ranged, { key: m.object.key, bytes: m.object.bytes, signal: deps.signal })
        : await deps.store.read(m.object.key);
      const reader = new VerifyingReader(source, m.object, deps.signal);
      try {
        const head = await readArchiveHead(reader);
        const started2 = Date.now();
        let last = 0;
        await reader.drain(() => {
          const t = Date.now();
          if (t - last < (deps.progressIntervalMs ?? 500)) return;
          last = t;
          deps.onEvent?.({
            type: 'progress',
            phase: 'download',
            database,
            bytes: reader.bytes,
            total: m.object.bytes,
            elapsedMs: t - started2,
          });
        });
        checks = { ...checks, sha256: true };
        deps.onEvent?.({ type: 'verified', backup: ref });
        const toc = compareToc(m.toc, head.toc ? summarizeToc(head.toc) : null);
        mismatches.push(...toc.mismatches);
        notes.push(...toc.notes);
        checks = {
          ...checks,
          toc: head.toc && m.toc ? toc.mismatches.length === 0 : null,
          tables: head.toc ? summarizeToc(head.toc).tables.length : null,
        };
      } finally {
        reader.destroy();
      }
    } else {
      if (!deps.scratch) throw new RestoreError('no scratch server to restore into');
      const scratch = await deps.scratch(Math.floor(m.server.versionNum / 10000));
      const isolation = scratch.isolation ?? [];
      deps.onEvent?.({ type: 'scratch', kind: scratch.kind, version: scratch.version, note: scratch.note, isolation });
      server = { version: scratch.version, kind: scratch.kind, note: scratch.note, isolation };
      try {
        // Owners and grants are part of the proof when the roles can be had: the nearest globals backup, on a
        // throwaway server only (never create roles on someone's scratch server).
        let withRoles = false;
        if (scratch.kind === 'embedded') {
          const g = nearestGlobals(await listCatalog(deps.store, { kind: 'globals' }), entry.startedAt);
          if (g) {
            const report = await scratch.target.applyGlobals(await readGlobalsObject(g, deps.store, deps.signal), `globals backup ${g.id}`);
            if (report.errors.length === 0) {
              withRoles = true;
              notes.push(
                `roles from globals backup ${g.id} created by name (no attributes, no login): privileges restored too; owners not (--no-owner: the restore role is not a superuser)`,
              );
            } else
              notes.push(
                `roles from globals backup ${g.id} did not apply cleanly (${report.errors[0]}): restored without owners and privileges`,
              );
          } else notes.push('no globals backup: restored without owners and privileges (--no-owner --no-acl)');
        } else notes.push('restored into the --target scratch server without owners and privileges (--no-owner --no-acl)');
        const db = `rds_s3_backup_verify_${randomBytes(4).toString('hex')}`;
        await scratch.target.createEmptyDatabase(db);
        try {
          const result = await restoreArchive(
            entry,
            scratch.target,
            {
              database: db,
              create: false,
              singleTransaction: true,
              jobs: 1,
              // Owners need a superuser to restore (ALTER OWNER across roles): the throwaway server restores without one.
              selection: { schemas: [], tables: [], noOwner: !withRoles || scratch.kind === 'embedded', noAcl: !withRoles, clean: false },
              tempDir: plan.tempDir,
            },
            {
              store: deps.store,
              target: scratch.target,
              lister: async () => [],
              signal: deps.signal,
              onEvent: deps.onEvent,
              progressIntervalMs: deps.progressIntervalMs,
            },
          );
          checks = { ...checks, sha256: true, restore: true };
          const toc = compareToc(m.toc, result.archiveToc);
          mismatches.push(...toc.mismatches);
          notes.push(...toc.notes, ...result.tool.filtered.map((f) => `removed from the restore script: ${f}`));
          checks = { ...checks, toc: result.archiveToc && m.toc ? toc.mismatches.length === 0 : null };
          compared = compareRestored(m, result.archiveToc, await scratch.target.tableCounts(db));
          mismatches.push(...compared.mismatches);
          notes.push(...compared.notes);
          checks = {
            ...checks,
            tables: compared.tables,
            rowCounts: compared.rowCountsChecked === null ? null : compared.mismatches.length === 0,
          };
        } finally {
          await scratch.target.dropDatabase(db).catch(() => undefined);
        }
      } finally {
        await scratch.stop();
      }
    }
  } catch (err) {
    if (!isVerdict(err)) throw err;
    // The server lacking a feature the archive uses proves nothing about the backup: inconclusive, not failed.
    missing = err instanceof ToolProcessError ? missingCapabilities(err.stderrTail) : [];
    if (missing.length > 0) notes.push(`the restore stopped: ${describeError(err)}`);
    else mismatches.push(describeError(err));
    if (err instanceof IntegrityError) checks = { ...checks, sha256: false };
    if (checks.restore === null && !plan.integrityOnly) checks = { ...checks, restore: false };
  }

  const verdict: Verdict = mismatches.length > 0 ? 'failed' : missing.length > 0 ? 'could-not-verify' : 'verified';
  const ok = verdict === 'verified';
  const mode = plan.integrityOnly ? 'integrity' : 'restore';
  let summary: string;
  if (verdict === 'could-not-verify')
    summary = `could not verify: PostgreSQL ${server?.version} (${server?.kind === 'embedded' ? 'throwaway' : 'scratch target'}) lacks ${missing.join('; ')}; the backup was not judged`;
  else if (!ok)
    summary = `FAILED: ${mismatches.slice(0, 3).join('; ')}${mismatches.length > 3 ? `; and ${mismatches.length - 3} more` : ''}`;
  else if (plan.integrityOnly)
    summary = `SHA-256 and length match; archive TOC readable${checks.toc ? ' and equal to the manifest' : ''}${checks.tables !== null ? ` (${checks.tables} tables)` : ''}; not restored`;
  else {
    const counts = compared?.rowCountsChecked ? `exact row counts match (${compared.rows} rows)` : 'no row counts recorded at backup time';
    summary = `restored into PostgreSQL ${server?.version} (${server?.kind === 'embedded' ? 'throwaway' : 'scratch target'}); ${compared?.tables ?? 0} tables present; ${counts}`;
  }
  const verifiedAt = now().toISOString();
  const durationMs = Date.now() - started;
  const record = {
    ok,
    verdict,
    missing,
    verifiedAt,
    mode,
    summary,
    backup: { id: ref.id, database: ref.database, key: ref.key, sha256: ref.sha256, bytes: ref.bytes },
    server,
    checks,
    mismatches,
    notes,
    durationMs,
  } as const;
  const recordKey = plan.record ? await writeVerifyRecord(deps.store, { ...entry, manifest: m }, record) : null;
  deps.onEvent?.({ type: 'checked', ok, summary });
  return { ok, verdict, missing, mode, backup: ref, summary, checks, mismatches, notes, server, verifiedAt, durationMs, recordKey };
}
