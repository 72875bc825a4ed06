import { executeList } from '../app/list.ts';
import type { CatalogEntry } from '../core/catalog/listing.ts';
import { parseListConfig } from '../core/config/list-config.ts';
import { collectRaw } from '../core/config/raw.ts';
import { ExitCode } from '../core/errors.ts';
import { parseCommandArgs } from './args.ts';
import { formatBytes, formatDuration, table } from './format.ts';
import { commandHelp } from './help.ts';
import type { CliIO } from './io.ts';

function verifiedCell(e: CatalogEntry): string {
  if (!e.verification) return '-';
  const mode = e.verification.mode ? ` (${e.verification.mode})` : '';
  return `${e.verification.ok ? 'verified ✓' : 'verify FAILED ✗'} at ${e.verification.verifiedAt.replace(/\.\d+Z$/, 'Z')}${mode}`;
}

export async function listCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseCommandArgs('list', argv);
  if (args.help) {
    io.stdout.write(commandHelp('list') + '\n');
    return ExitCode.ok;
  }
  const config = parseListConfig(collectRaw('list', args.values, io.env));
  const { url, entries, uploads } = await executeList(config, { env: io.env });
  if (config.output.json) {
    io.stdout.write(
      JSON.stringify(
        {
          target: url,
          backups: entries.map((e) => ({
            id: e.id,
            kind: e.kind,
            database: e.database,
            startedAt: e.startedAt.toISOString(),
            status: e.status,
            problem: e.problem,
            key: e.dataKey,
            manifestKey: e.manifestKey,
            bytes: e.manifest?.object.bytes ?? e.dataBytes,
            durationMs: e.manifest?.durationMs ?? null,
            tier: e.manifest?.tier ?? null,
            sha256: e.manifest?.object.sha256 ?? null,
            serverVersion: e.manifest?.server.version ?? null,
            verification: e.verification,
          })),
          openUploads: uploads ?? null,
        },
        null,
        2,
      ) + '\n',
    );
    return ExitCode.ok;
  }
  if (entries.length === 0) io.stdout.write(`no backups under ${url}\n`);
  else {
    const rows = [['STARTED (UTC)', 'DATABASE', 'STATUS', 'SIZE', 'DURATION', 'TIER', 'VERIFIED', 'ID']];
    for (const e of entries) {
      rows.push([
        e.startedAt.toISOString().replace(/\.000Z$/, 'Z'),
        e.database ?? '(globals)',
        e.status === 'complete' ? 'complete' : `${e.status}: ${e.problem}`,
        e.manifest ? formatBytes(e.manifest.object.bytes) : e.dataBytes !== null ? formatBytes(e.dataBytes) : '-',
        e.manifest ? formatDuration(e.manifest.durationMs) : '-',
        e.manifest?.tier ?? '-',
        verifiedCell(e),
        e.id,
      ]);
    }
    io.stdout.write(table(rows) + '\n');
  }
  if (uploads && uploads.length > 0) {
    io.stdout.write(`\n${uploads.length} unfinished upload(s) (not backups; expired by the bucket's abort-incomplete-multipart rule):\n`);
    for (const u of uploads) io.stdout.write(`  ${u.key}  started ${u.initiated?.toISOString() ?? '?'}\n`);
  }
  return ExitCode.ok;
}
