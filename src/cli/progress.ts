import type { BackupEvent } from '../core/backup/run-backup.ts';
import { estimateText } from '../app/progress-log.ts';
import type { ProgressMode } from '../core/config/backup-config.ts';
import { formatBytes, formatDuration, formatRate } from './format.ts';

export type Output = { write(text: string): void; isTTY: boolean };

/** A status line that later output overwrites (TTY only): `show` replaces it, `clear` removes it. */
export function liveLine(out: Output): { show(text: string): void; clear(): void } {
  let live = false;
  const clear = (): void => {
    if (live) out.write('\r\x1b[2K');
    live = false;
  };
  return {
    clear,
    show(text) {
      clear();
      out.write(text);
      live = true;
    },
  };
}

const BAR_WIDTH = 24;

/** [█████████░░░░░░░░░░░░░░░] */
function bar(percent: number, width = BAR_WIDTH): string {
  const full = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

export type ProgressOptions = { readonly quiet: boolean; readonly mode?: ProgressMode };

/** One JSON document per event on stderr (--progress=json): what a script can follow without parsing the bar. */
function jsonLine(e: BackupEvent): string {
  return JSON.stringify({ event: e.type, at: new Date().toISOString(), ...e, type: undefined }) + '\n';
}

/**
 * Renders backup events: on a TTY a live bar from the server's estimate (falling back to archive bytes while
 * there is none), one line per finished database otherwise; --progress=json: JSON lines instead.
 */
export function backupProgress(out: Output, options: ProgressOptions): (e: BackupEvent) => void {
  const mode = options.mode ?? 'auto';
  if (mode === 'json') return (e) => out.write(jsonLine(e));
  const line = liveLine(out);
  const clear = line.clear;
  const live = mode === 'bar' || (mode === 'auto' && out.isTTY);
  let estimated = false;
  return (e) => {
    if (options.quiet || mode === 'none') return;
    switch (e.type) {
      case 'plan':
        out.write(
          `PostgreSQL ${e.server.version}, pg_dump ${e.pgDumpVersion}: ${e.databases.length} database(s)${e.globals ? ' + globals' : ''}\n`,
        );
        break;
      case 'start':
        estimated = false;
        if (live) line.show(`${e.database ?? 'globals'}: starting (${e.tier})`);
        break;
      case 'progress':
        if (live && !estimated)
          line.show(
            `${e.database ?? 'globals'}: ${formatBytes(e.bytes)}  ${formatRate(e.bytes, e.elapsedMs)}  ${formatDuration(e.elapsedMs)}`,
          );
        break;
      case 'estimate':
        // Unknown progress: back to the archive bytes, which keep coming.
        estimated = e.estimate !== null;
        if (live && e.estimate) line.show(`${e.database} ${bar(e.estimate.percent)} ${estimateText(e.estimate)}`);
        break;
      case 'done':
        clear();
        out.write(
          `✓ ${e.result.database ?? 'globals'}: ${formatBytes(e.result.bytes)} in ${formatDuration(e.result.durationMs)} (${formatRate(e.result.bytes, e.result.durationMs)}), ${e.result.tier} → ${e.result.key}\n`,
        );
        break;
      case 'failed':
        clear();
        out.write(
          `✗ ${e.result.database ?? 'globals'}: ${e.result.error?.message ?? 'failed'}\n${e.result.error?.hint ? `  hint: ${e.result.error.hint}\n` : ''}`,
        );
        break;
    }
  };
}
