import { executeStatus } from '../app/status.ts';
import type { DatabaseStatus } from '../core/catalog/status.ts';
import { collectRaw } from '../core/config/raw.ts';
import { parseStatusConfig } from '../core/config/status-config.ts';
import { ExitCode } from '../core/errors.ts';
import { parseCommandArgs } from './args.ts';
import { formatBytes, formatDuration, table } from './format.ts';
import { commandHelp } from './help.ts';
import type { CliIO } from './io.ts';

function age(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 48 ? `${(h / 24).toFixed(1)}d` : h >= 1 ? `${h.toFixed(1)}h` : `${Math.max(0, Math.round(ms / 60_000))}m`;
}

function trendCell(d: DatabaseStatus): string {
  if (!d.trend) return '-';
  const c = d.trend.changePercent;
  return `${c >= 0 ? '+' : ''}${c.toFixed(1)}% vs ${d.trend.previous} before`;
}

function verifyCell(d: DatabaseStatus): string {
  if (!d.verify) return 'never';
  const word = { verified: 'verified ✓', failed: 'FAILED ✗', 'could-not-verify': 'could not verify ?' }[d.verify.verdict];
  return `${word} ${age(d.verify.ageMs)} ago`;
}

export async function statusCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseCommandArgs('status', argv);
  if (args.help) {
    io.stdout.write(commandHelp('status') + '\n');
    return ExitCode.ok;
  }
  const config = parseStatusConfig(collectRaw('status', args.values, io.env));
  const report = await executeStatus(config, { env: io.env });
  if (config.output.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else if (report.databases.length === 0) io.stdout.write(`no backups under ${report.url}\n`);
  else {
    const rows = [['DATABASE', 'LAST BACKUP', 'SIZE', 'TREND', 'DURATION', 'VERIFY', 'STATUS']];
    for (const d of report.databases) {
      rows.push([
        d.database,
        d.newest ? `${age(d.newest.ageMs)} ago` : 'none',
        d.newest ? formatBytes(d.newest.bytes) : '-',
        trendCell(d),
        d.newest ? formatDuration(d.newest.durationMs) : '-',
        verifyCell(d),
        d.problems.length === 0 ? 'OK' : `FAIL: ${d.problems.join('; ')}`,
      ]);
    }
    io.stdout.write(table(rows) + '\n');
  }
  if (!report.ok && !config.output.json && !config.output.quiet) {
    const bad = report.databases.filter((d) => d.problems.length > 0).length;
    io.stderr.write(
      report.databases.length === 0
        ? `error: no backups under ${report.url}\n`
        : `error: ${bad} of ${report.databases.length} database(s) outside the limits\n`,
    );
  }
  return report.ok ? ExitCode.ok : ExitCode.failed;
}
