import { BackupRunError } from '../core/backup/run-backup.ts';
import { parseBackupConfig } from '../core/config/backup-config.ts';
import { collectRaw } from '../core/config/raw.ts';
import { ExitCode } from '../core/errors.ts';
import { executeBackup } from '../app/backup.ts';
import { parseCommandArgs } from './args.ts';
import { warnAboutArgvPasswords } from './argv-password.ts';
import { formatBytes } from './format.ts';
import { commandHelp } from './help.ts';
import type { CliIO } from './io.ts';
import { backupProgress } from './progress.ts';

export async function backupCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseCommandArgs('backup', argv);
  if (args.help) {
    io.stdout.write(commandHelp('backup') + '\n');
    return ExitCode.ok;
  }
  warnAboutArgvPasswords(args.values, io.stderr);
  const config = parseBackupConfig(collectRaw('backup', args.values, io.env));
  const report = await executeBackup(config, {
    signal: io.signal,
    env: io.env,
    // --json keeps stderr quiet unless progress events were asked for explicitly.
    onEvent: backupProgress(io.stderr, {
      quiet: config.output.quiet || config.output.json,
      mode: config.progress,
    }),
  });
  if (config.output.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    const ok = report.results.filter((r) => r.ok);
    const total = ok.reduce((s, r) => s + r.bytes, 0);
    io.stdout.write(`${ok.length} of ${report.results.length} backup(s) written to ${report.target} (${formatBytes(total)})\n`);
    for (const r of ok) io.stdout.write(`  ${r.database ?? 'globals'}  ${r.manifestKey}\n`);
  }
  if (!report.ok) {
    const err = new BackupRunError(report);
    io.stderr.write(`error: ${err.message}\n`);
    return io.signal.aborted ? ExitCode.interrupted : ExitCode.failed;
  }
  return ExitCode.ok;
}
