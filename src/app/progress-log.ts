import type { DumpEstimate } from '../core/backup/dump-progress.ts';
import type { BackupEvent } from '../core/backup/run-backup.ts';

/** Database megabytes (10^6, as the server's sizes are usually read): the rate of the data, not of the archive. */
function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

/** m:ss or h:mm:ss. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** "42.3% of 1049 MB, 35.2 MB/s, ETA 0:41, public.orders (3/12)": the words the bar, the logs and the errors share. */
export function estimateText(e: DumpEstimate): string {
  const rate = e.bytesPerSecond !== null ? `${(e.bytesPerSecond / 1e6).toFixed(1)} MB/s` : '- MB/s';
  const eta = e.etaMs !== null ? `ETA ${clock(e.etaMs)}` : 'ETA -';
  const table = e.currentTable ? `, ${e.currentTable} (${e.tablesDone + 1}/${e.tablesTotal})` : '';
  return `${e.percent.toFixed(1)}% of ${megabytes(e.totalBytes)}, ${rate}, ${eta}${table}`;
}

/** The structured fields of a progress log line (Lambda and container). */
function estimateFields(e: DumpEstimate): Record<string, unknown> {
  return {
    database: e.database,
    percent: Math.round(e.percent * 10) / 10,
    doneBytes: e.doneBytes,
    totalBytes: e.totalBytes,
    bytesPerSecond: e.bytesPerSecond === null ? null : Math.round(e.bytesPerSecond),
    etaMs: e.etaMs,
    elapsedMs: e.elapsedMs,
    table: e.currentTable,
    method: e.method,
  };
}

const PROGRESS_LOG_INTERVAL_MS = 30_000;

type Log = {
  info(message: string, fields: Record<string, unknown>): void;
  debug(message: string, fields: Record<string, unknown>): void;
};

/**
 * One progress line every interval for the Lambda and the container: the server's estimate when there is one,
 * else the archive bytes written (globals, a source that cannot tell, or a probe that failed).
 * Feed it every backup event; it keeps only the latest reading and logs on a clock of its own.
 */
export function progressLog(log: Log, extra: () => Record<string, unknown> = () => ({}), intervalMs = PROGRESS_LOG_INTERVAL_MS) {
  let loggedAt = 0;
  let bytes: { database: string | null; bytes: number; elapsedMs: number } | null = null;
  let latest: DumpEstimate | null = null;
  const due = (): boolean => Date.now() - loggedAt >= intervalMs;
  const emit = (): void => {
    loggedAt = Date.now();
    // One message for every line (log filters match it); `progress` is the human reading.
    if (latest)
      log.info('backup progress', {
        progress: `${latest.database} ${estimateText(latest)}`,
        ...estimateFields(latest),
        ...extra(),
        ...(bytes ? { archiveBytes: bytes.bytes } : {}),
      });
    else if (bytes) log.info('backup progress', { database: bytes.database, bytes: bytes.bytes, elapsedMs: bytes.elapsedMs, ...extra() });
  };
  return (e: BackupEvent): void => {
    switch (e.type) {
      case 'start':
        loggedAt = Date.now();
        bytes = null;
        latest = null;
        break;
      case 'progress':
        bytes = { database: e.database, bytes: e.bytes, elapsedMs: e.elapsedMs };
        if (due()) emit();
        break;
      case 'estimate':
        if (e.estimate) latest = e.estimate;
        else {
          latest = null;
          log.debug('progress unknown: the server-side progress could not be read; the backup goes on', {
            database: e.database,
            reason: e.reason,
          });
        }
        if (due()) emit();
        break;
      case 'done':
      case 'failed':
        bytes = null;
        latest = null;
        break;
    }
  };
}
