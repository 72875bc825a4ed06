import type { BackupEvent } from '../core/backup/run-backup.ts';
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

/** Renders backup events: a live line on a TTY, one line per finished database otherwise. */
export function backupProgress(out: Output, options: { quiet: boolean }): (e: BackupEvent) => void {
  const line = liveLine(out);
  const clear = line.clear;
  return (e) => {
    if (options.quiet) return;
    switch (e.type) {
      case 'plan':
        out.write(
          `PostgreSQL ${e.server.version}, pg_dump ${e.pgDumpVersion}: ${e.databases.length} database(s)${e.globals ? ' + globals' : ''}\n`,
        );
        break;
      case 'start':
        if (out.isTTY) line.show(`${e.database ?? 'globals'}: starting (${e.tier})`);
        break;
      case 'progress':
        if (out.isTTY)
          line.show(
            `${e.database ?? 'globals'}: ${formatBytes(e.bytes)}  ${formatRate(e.bytes, e.elapsedMs)}  ${formatDuration(e.elapsedMs)}`,
          );
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
