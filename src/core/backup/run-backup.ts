import { AbortedError, BackupToolError, describeError } from '../errors.ts';
import { backupKeys, databaseFolder, globalsFolder, newBackupId } from '../catalog/keys.ts';
import { MANIFEST_SCHEMA, serializeManifest, type Manifest } from '../catalog/manifest.ts';
import { choosePartSize } from '../config/part-size.ts';
import type { DatabaseSource, ServerInfo, Snapshot } from '../ports/database-source.ts';
import type { BackupStore } from '../ports/store.ts';
import { streamToStore } from './stream-to-store.ts';
import { DEFAULT_PROBE_INTERVAL_MS, type DumpEstimate, type DumpWatch, watchDump } from './dump-progress.ts';
import { summarizeToc } from '../archive/toc.ts';
import { computeTier, existingBackupTimes, TIER_TAG, type Tier } from '../catalog/tiers.ts';
import { TOOL_NAME, TOOL_VERSION } from '../version.ts';

export type BackupPlan = {
  readonly databases: 'all' | readonly string[];
  readonly globals: boolean;
  readonly compression: string;
  readonly rowCounts: boolean;
  readonly lockWaitTimeout: string | null;
  readonly partSizeMinBytes: number;
  readonly queueSize: number;
  readonly kmsKeyId: string | null;
};

export type BackupEvent =
  | {
      readonly type: 'plan';
      readonly databases: readonly string[];
      readonly globals: boolean;
      readonly server: ServerInfo;
      readonly pgDumpVersion: string;
    }
  | { readonly type: 'start'; readonly database: string | null; readonly key: string; readonly partSize: number; readonly tier: Tier }
  | { readonly type: 'progress'; readonly database: string | null; readonly bytes: number; readonly elapsedMs: number }
  /** From the server's side (a second session): estimate null means progress is unknown from here on, and why. */
  | { readonly type: 'estimate'; readonly database: string; readonly estimate: DumpEstimate | null; readonly reason: string | null }
  | { readonly type: 'done'; readonly result: DatabaseResult }
  | { readonly type: 'failed'; readonly result: DatabaseResult };

export type DatabaseResult = {
  readonly kind: 'database' | 'globals';
  readonly database: string | null;
  readonly ok: boolean;
  readonly id: string;
  readonly key: string;
  readonly manifestKey: string | null;
  readonly bytes: number;
  readonly sha256: string | null;
  readonly tier: Tier | null;
  readonly durationMs: number;
  /** True when the run was cancelled before this database's backup began: nothing was attempted for it. */
  readonly skipped: boolean;
  readonly error: { readonly name: string; readonly message: string; readonly hint: string | null } | null;
};

export type BackupReport = {
  readonly ok: boolean;
  readonly target: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly server: ServerInfo | null;
  readonly pgDumpVersion: string | null;
  readonly results: readonly DatabaseResult[];
};

export type BackupDeps = {
  readonly source: DatabaseSource;
  readonly store: BackupStore;
  readonly now?: () => Date;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: BackupEvent) => void) | undefined;
  /** How often progress events fire. */
  readonly progressIntervalMs?: number | undefined;
  /** How often the server is asked for the dump's progress (estimate events). */
  readonly estimateIntervalMs?: number | undefined;
};

const DUMP_CONTENT_TYPE = 'application/vnd.postgresql.custom-archive';
const GLOBALS_CONTENT_TYPE = 'application/sql';

/** Raised by callers that must fail on any unsuccessful database (CLI exit code, Lambda error). */
export class BackupRunError extends BackupToolError {
  readonly report: BackupReport;
  constructor(report: BackupReport) {
    const failed = report.results.filter((r) => !r.ok);
    const lines = failed.map((r) => `  - ${r.database ?? 'globals'}: ${r.error?.message ?? 'failed'}`);
    super(`${failed.length} of ${report.results.length} backup(s) failed:\n${lines.join('\n')}`);
    this.report = report;
  }
}

export async function runBackup(plan: BackupPlan, deps: BackupDeps): Promise<BackupReport> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const [server, pgDumpVersion] = await Promise.all([deps.source.serverInfo(), deps.source.dumpToolVersion()]);
  const databases = plan.databases === 'all' ? await deps.source.listDatabases() : plan.databases;
  deps.onEvent?.({ type: 'plan', databases, globals: plan.globals, server, pgDumpVersion });

  const results: DatabaseResult[] = [];
  // One at a time: parallel dumps would compete for the same CPU, network and memory budget.
  for (const database of databases) {
    results.push(await backupOne(plan, deps, { kind: 'database', database, server, pgDumpVersion, now }));
  }
  if (plan.globals) results.push(await backupOne(plan, deps, { kind: 'globals', database: null, server, pgDumpVersion, now }));
  return {
    ok: results.length > 0 && results.every((r) => r.ok),
    target: deps.store.url,
    startedAt: startedAt.toISOString(),
    finishedAt: now().toISOString(),
    server,
    pgDumpVersion,
    results,
  };
}

type One = {
  readonly kind: 'database' | 'globals';
  readonly database: string | null;
  readonly server: ServerInfo;
  readonly pgDumpVersion: string;
  readonly now: () => Date;
};

async function backupOne(plan: BackupPlan, deps: BackupDeps, one: One): Promise<DatabaseResult> {
  const started = one.now();
  const id = newBackupId(started);
  const keys = backupKeys(deps.store.prefix, one.kind, one.database, id);
  let tier: Tier | null = null;
  let snapshot: Snapshot | undefined;
  let counting: Promise<Readonly<Record<string, number>>> | undefined;
  let watch: DumpWatch | undefined;
  let skipped = false;
  try {
    if (deps.signal?.aborted) {
      skipped = true;
      throw new AbortedError('backup cancelled before it started');
    }
    const folder = one.kind === 'globals' ? globalsFolder(deps.store.prefix) : databaseFolder(deps.store.prefix, one.database!);
    // The bucket listing (for the tier) and the size query (for the part size) are only needed once the upload opens.
    // pg_dump starts meanwhile: its own start-up (connecting, reading the catalog, locking the tables) overlaps their
    // round trips, and its first bytes wait in its stdout socket until they are read.
    const facts = Promise.all([
      existingBackupTimes(deps.store, folder, started),
      one.kind === 'database' ? deps.source.databaseSize(one.database!) : null,
    ]);
    // Awaited below; when the snapshot or pg_dump fails first, this failure is not the one to report.
    facts.catch(() => undefined);

    if (one.kind === 'database' && plan.rowCounts) snapshot = await deps.source.exportSnapshot(one.database!, plan.lockWaitTimeout);
    // A failed count fails the backup, so it also stops the dump at once.
    const countFailed = new AbortController();
    const signal = deps.signal ? AbortSignal.any([deps.signal, countFailed.signal]) : countFailed.signal;
    const proc =
      one.kind === 'database'
        ? await deps.source.startDump({
            database: one.database!,
            compression: plan.compression,
            snapshot: snapshot?.id ?? null,
            lockWaitTimeout: plan.lockWaitTimeout,
          })
        : await deps.source.startGlobalsDump();
    let times: Date[];
    let size: number | null;
    try {
      [times, size] = await facts;
    } catch (err) {
      // Nothing was uploaded: stop pg_dump, and read its output to the end so that nothing is left open.
      proc.kill('SIGTERM');
      await Promise.all([proc.exited, proc.readOutput(() => undefined).catch(() => undefined)]);
      throw err;
    }
    tier = computeTier(started, times);
    const partSize = choosePartSize(size, plan.partSizeMinBytes);
    deps.onEvent?.({ type: 'start', database: one.database, key: keys.data, partSize, tier });

    if (one.kind === 'database') watch = watchProgress(deps, one.database!);
    // Counted while pg_dump dumps the same snapshot: the counts are only needed for the manifest.
    counting = snapshot?.countRows();
    counting?.catch((err: unknown) => countFailed.abort(err));

    const metadata = {
      'tool-version': TOOL_VERSION,
      'backup-id': id,
      'pg-dump-version': one.pgDumpVersion,
      'server-version': one.server.version,
    };
    const tags = { [TIER_TAG]: tier };
    let lastProgress = 0;
    const interval = deps.progressIntervalMs ?? 1000;
    const streamed = await streamToStore(proc, deps.store, keys.data, {
      contentType: one.kind === 'database' ? DUMP_CONTENT_TYPE : GLOBALS_CONTENT_TYPE,
      metadata,
      tags,
      partSize,
      queueSize: plan.queueSize,
      expectArchive: one.kind === 'database',
      signal,
      onBytes: (bytes) => {
        const t = Date.now();
        if (t - lastProgress < interval) return;
        lastProgress = t;
        deps.onEvent?.({ type: 'progress', database: one.database, bytes, elapsedMs: t - started.getTime() });
      },
    });
    // Before the done event: no estimate may follow it.
    await watch?.stop();
    const rowCounts = counting ? await counting : null;
    // No tagging after the upload: the tier tag went in with the upload itself, and the checksum is in the
    // manifest. (A later PutObjectTagging would need s3:PutObjectVersionTagging on the versioned bucket, and a
    // writer that may re-tag could re-tier old backups into early expiry.)

    const finished = one.now();
    const manifest: Manifest = {
      schema: MANIFEST_SCHEMA,
      kind: one.kind,
      id,
      database: one.database,
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
      pgDump: { version: one.pgDumpVersion },
      server: { version: one.server.version, versionNum: one.server.versionNum, host: one.server.host },
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      object: {
        key: keys.data,
        bytes: streamed.bytes,
        sha256: streamed.sha256,
        versionId: streamed.versionId,
        contentType: one.kind === 'database' ? DUMP_CONTENT_TYPE : GLOBALS_CONTENT_TYPE,
      },
      format: one.kind === 'database' ? 'custom' : 'sql',
      compression: one.kind === 'database' ? plan.compression : 'none',
      tier,
      encryption: { kmsKeyId: plan.kmsKeyId },
      toc: streamed.toc ? summarizeToc(streamed.toc) : null,
      rowCounts: snapshot && rowCounts ? { snapshot: snapshot.id, tables: { ...rowCounts } } : null,
    };
    // Written last: its presence is what makes the backup exist.
    await deps.store.putSmall(keys.manifest, serializeManifest(manifest), {
      contentType: 'application/json',
      metadata: { ...metadata, sha256: streamed.sha256 },
      tags,
    });
    const result: DatabaseResult = {
      kind: one.kind,
      database: one.database,
      ok: true,
      id,
      key: keys.data,
      manifestKey: keys.manifest,
      bytes: streamed.bytes,
      sha256: streamed.sha256,
      tier,
      durationMs: manifest.durationMs,
      skipped: false,
      error: null,
    };
    deps.onEvent?.({ type: 'done', result });
    return result;
  } catch (err) {
    const result: DatabaseResult = {
      kind: one.kind,
      database: one.database,
      ok: false,
      id,
      key: keys.data,
      manifestKey: null,
      bytes: 0,
      sha256: null,
      tier,
      durationMs: one.now().getTime() - started.getTime(),
      skipped,
      error: {
        name: err instanceof Error ? err.name : 'Error',
        message: describeError(err),
        hint: err instanceof BackupToolError ? (err.hint ?? null) : null,
      },
    };
    deps.onEvent?.({ type: 'failed', result });
    return result;
  } finally {
    await watch?.stop();
    await snapshot?.release();
  }
}

/** Only when someone listens and the source can tell: a second session costs a connection slot. */
function watchProgress(deps: BackupDeps, database: string): DumpWatch | undefined {
  const onEvent = deps.onEvent;
  const probe = onEvent ? deps.source.progressProbe?.(database) : undefined;
  if (!onEvent || !probe) return undefined;
  return watchDump(probe, {
    database,
    startedAt: Date.now(),
    intervalMs: deps.estimateIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
    onEstimate: (estimate) => onEvent({ type: 'estimate', database, estimate, reason: null }),
    onUnknown: (reason) => onEvent({ type: 'estimate', database, estimate: null, reason }),
  });
}
