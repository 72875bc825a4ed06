import type { BackupEvent } from '../core/backup.ts';
import { formatBytes, formatDuration, formatRate } from './format.ts';

export type Output = { write(text: string): void; isTTY: boolean };

/** Renders backup events: a live line on a TTY, one line per finished database otherwise. */
export function backupProgress(out: Output, options: { quiet: boolean }): (e: BackupEvent) => void {
  let live = false;
  const clear = (): void => {
    if (live) out.write('\r\x1b[2K');
    live = false;
  };
  return (e) => {
    if (options.quiet) return;
    switch (e.type) {
      case 'plan':
        out.write(`PostgreSQL ${e.server.version}, pg_dump ${e.pgDumpVersion}: ${e.databases.length} database(s)${e.globals ? ' + globals' : ''}\n`);
        break;
      case 'start':
        if (out.isTTY) {
          out.write(`${e.database ?? 'globals'}: starting (${e.tier})`);
          live = true;
        }
        break;
      case 'progress':
        if (out.isTTY) {
          clear();
          out.write(`${e.database ?? 'globals'}: ${formatBytes(e.bytes)}  ${formatRate(e.bytes, e.elapsedMs)}  ${formatDuration(e.elapsedMs)}`);
          live = true;
        }
        break;
      case 'done':
        clear();
        out.write(`✓ ${e.result.database ?? 'globals'}: ${formatBytes(e.result.bytes)} in ${formatDuration(e.result.durationMs)} (${formatRate(e.result.bytes, e.result.durationMs)}), ${e.result.tier} → ${e.result.key}\n`);
        break;
      case 'failed':
        clear();
        out.write(`✗ ${e.result.database ?? 'globals'}: ${e.result.error?.message ?? 'failed'}\n${e.result.error?.hint ? `  hint: ${e.result.error.hint}\n` : ''}`);
        break;
    }
  };
}
