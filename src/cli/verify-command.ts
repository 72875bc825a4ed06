import { VERDICT_TEXT } from '../core/catalog/verdict.ts';
import { collectRaw } from '../core/config/raw.ts';
import { parseVerifyConfig } from '../core/config/verify-config.ts';
import { ExitCode } from '../core/errors.ts';
import type { VerifyEvent } from '../core/restore/verify.ts';
import { executeVerify } from '../app/verify.ts';
import { parseCommandArgs } from './args.ts';
import { warnAboutArgvPasswords } from './argv-password.ts';
import { formatDuration } from './format.ts';
import { commandHelp } from './help.ts';
import type { CliIO } from './io.ts';
import type { Output } from './progress.ts';
import { errorJson, restoreProgress } from './restore-command.ts';

function verifyProgress(out: Output, options: { quiet: boolean }): (e: VerifyEvent) => void {
  const restore = restoreProgress(out, options);
  return (e) => {
    if (options.quiet) return;
    if (e.type === 'scratch') {
      out.write(`${e.kind === 'embedded' ? 'throwaway' : 'scratch'} PostgreSQL ${e.version}: ${e.note}\n`);
      for (const i of e.isolation) out.write(`  isolation: ${i}\n`);
    } else if (e.type === 'checked') return;
    else restore(e);
  };
}

export async function verifyCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseCommandArgs('verify', argv);
  if (args.help) {
    io.stdout.write(commandHelp('verify') + '\n');
    return ExitCode.ok;
  }
  warnAboutArgvPasswords(args.values, io.stderr);
  const config = parseVerifyConfig(collectRaw('verify', args.values, io.env));
  let report;
  try {
    report = await executeVerify(config, {
      signal: io.signal,
      env: io.env,
      onEvent: verifyProgress(io.stderr, { quiet: config.output.quiet || config.output.json }),
    });
  } catch (err) {
    if (config.output.json) io.stdout.write(JSON.stringify(errorJson(err), null, 2) + '\n');
    throw err;
  }
  if (config.output.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    io.stdout.write(
      `${VERDICT_TEXT[report.verdict]} ${report.backup.database} backup ${report.backup.id} (${report.mode}, ${formatDuration(report.durationMs)}): ${report.summary}\n`,
    );
    for (const m of report.mismatches) io.stdout.write(`  ✗ ${m}\n`);
    for (const m of report.missing) io.stdout.write(`  ? missing on the verifying server: ${m}\n`);
    for (const n of report.notes) io.stdout.write(`  note: ${n}\n`);
    io.stdout.write(report.recordKey ? `  result recorded in ${report.recordKey}\n` : '  result not recorded (--no-record)\n');
  }
  // Inconclusive is not success (the backup is unproven) but not a failed backup either: its own exit code.
  return report.verdict === 'verified' ? ExitCode.ok : report.verdict === 'failed' ? ExitCode.failed : ExitCode.couldNotVerify;
}
