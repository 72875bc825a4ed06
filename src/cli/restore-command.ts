import { collectRaw } from '../core/config/raw.ts';
import { parseRestoreConfig } from '../core/config/restore-config.ts';
import { BackupToolError, ExitCode, describeError } from '../core/errors.ts';
import type { RestoreEvent } from '../core/restore/common.ts';
import { executeRestore, type RestoreDestination } from '../app/restore.ts';
import { parseCommandArgs } from './args.ts';
import { warnAboutArgvPasswords } from './argv-password.ts';
import { formatBytes, formatDuration, formatRate } from './format.ts';
import { commandHelp } from './help.ts';
import type { CliIO } from './io.ts';
import { liveLine, type Output } from './progress.ts';

/** Renders restore/verify events on stderr: a live line on a TTY, milestones otherwise. */
export function restoreProgress(out: Output, options: { quiet: boolean }): (e: RestoreEvent) => void {
  const line = liveLine(out);
  const clear = line.clear;
  return (e) => {
    if (options.quiet) return;
    switch (e.type) {
      case 'selected':
        clear();
        out.write(
          `${e.backup.kind === 'globals' ? 'globals' : e.backup.database}: backup ${e.backup.id} (${formatBytes(e.backup.bytes)}, PostgreSQL ${e.backup.serverVersion})${e.skipped > 0 ? `, ${e.skipped} newer incomplete/invalid backup(s) passed over` : ''}\n`,
        );
        break;
      case 'progress':
        if (out.isTTY) {
          const pct = e.total > 0 ? ` (${Math.floor((e.bytes * 100) / e.total)}%)` : '';
          line.show(
            `${e.database ?? 'globals'}: ${e.phase === 'download' ? 'downloading' : 'restoring'} ${formatBytes(e.bytes)} of ${formatBytes(e.total)}${pct}  ${formatRate(e.bytes, e.elapsedMs)}  ${formatDuration(e.elapsedMs)}`,
          );
        }
        break;
      case 'verified':
        clear();
        out.write(
          `✓ ${e.backup.kind === 'globals' ? 'globals' : e.backup.database}: all ${formatBytes(e.backup.bytes)} arrived, SHA-256 matches the manifest\n`,
        );
        break;
      case 'restoring':
        clear();
        out.write(`${e.database}: pg_restore -j ${e.jobs} from the verified local copy\n`);
        break;
      case 'globals':
        clear();
        out.write(
          `✓ globals applied${e.report.expectedErrors.length > 0 ? ` (${e.report.expectedErrors.length} already present: ${e.report.expectedErrors.join('; ')})` : ''}\n`,
        );
        break;
      case 'done':
        clear();
        break;
    }
  };
}

export function errorJson(err: unknown): { ok: false; error: { name: string; message: string; hint: string | null } } {
  return {
    ok: false,
    error: {
      name: err instanceof Error ? err.name : 'Error',
      message: describeError(err),
      hint: err instanceof BackupToolError ? (err.hint ?? null) : null,
    },
  };
}

/** host, port, database, user as resolved: the one line to read before a restore changes anything. */
export function describeDestination(d: RestoreDestination): string {
  return `host=${d.host ?? '(libpq default)'} port=${d.port} database=${d.database ?? "(the backup's name)"} user=${d.user ?? '(libpq default)'}`;
}

export async function restoreCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseCommandArgs('restore', argv);
  if (args.help) {
    io.stdout.write(commandHelp('restore') + '\n');
    return ExitCode.ok;
  }
  warnAboutArgvPasswords(args.values, io.stderr);
  const config = parseRestoreConfig(collectRaw('restore', args.values, io.env));
  let report;
  try {
    report = await executeRestore(config, {
      signal: io.signal,
      env: io.env,
      onDestination: (d) => {
        if (!config.output.quiet && !config.output.json) io.stderr.write(`destination: ${describeDestination(d)}\n`);
      },
      onEvent: restoreProgress(io.stderr, { quiet: config.output.quiet || config.output.json }),
    });
  } catch (err) {
    if (config.output.json) io.stdout.write(JSON.stringify(errorJson(err), null, 2) + '\n');
    throw err;
  }
  if (config.output.json) {
    io.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return ExitCode.ok;
  }
  if (report.list) {
    io.stdout.write(
      `; backup ${report.list.backup.id} of ${report.list.backup.database} (${report.list.backup.key}): what would be restored\n`,
    );
    io.stdout.write(
      "; only the archive's table of contents was read; the object's checksum is checked by a restore or `verify --integrity-only`\n",
    );
    io.stdout.write(report.list.items.join('\n') + '\n');
    return ExitCode.ok;
  }
  if (report.globals) {
    io.stdout.write(`globals ${report.globals.backup.id} applied to ${report.target}\n`);
  }
  const d = report.database;
  if (d) {
    const how =
      d.mode === 'parallel'
        ? `parallel (pg_restore -j ${d.jobs}, not one transaction)`
        : d.mode === 'single-transaction'
          ? 'one transaction'
          : 'statement by statement (--no-single-transaction)';
    io.stdout.write(
      `restored ${d.backup.database} backup ${d.backup.id} into ${report.target?.replace(/\/[^/]*$/, '')}/${d.database}${d.created ? ' (created)' : ''} in ${formatDuration(d.durationMs)}\n`,
    );
    io.stdout.write(
      `  ${formatBytes(d.backup.bytes)}, SHA-256 verified ${d.backup.sha256}; ${how}; target PostgreSQL ${report.targetServerVersion}\n`,
    );
    if (d.selectedTables.length > 0) io.stdout.write(`  tables: ${d.selectedTables.join(', ')}\n`);
    if (d.filters.schemas.length > 0 && d.selectedTables.length === 0) io.stdout.write(`  schemas: ${d.filters.schemas.join(', ')}\n`);
    for (const f of d.tool.filtered) io.stdout.write(`  removed from the script: ${f}\n`);
    for (const n of d.tool.notes) io.stdout.write(`  note: ${n}\n`);
  }
  return ExitCode.ok;
}
