import { optionsFor, type Command, type OptionSpec } from '../core/config/options.ts';
import { TOOL_VERSION } from '../core/version.ts';

const SUMMARY: Record<Command, string> = {
  backup: 'Stream pg_dump of one or more databases (and optionally roles) into S3 or a directory, with a manifest per backup.',
  list: 'List backups newest first: complete ones (with a manifest) and incomplete leftovers.',
  restore:
    'Restore a backup into a database: checksum-verified while streaming, in one transaction that only commits when the object is intact.',
  verify: 'Prove a backup restores: into a throwaway PostgreSQL (or --target), comparing tables and exact row counts with the manifest.',
  status:
    "One line per database: the newest complete backup's age, size and trend, the newest verify's verdict and age; exits 1 when any is over the limits (for cron and monitoring checks).",
};

const EXAMPLES: Record<Command, string[]> = {
  backup: [
    '# every database of an RDS instance, roles too, with TLS and a password from the environment',
    'PGHOST=app-db.abc123.eu-west-1.rds.amazonaws.com PGUSER=backup PGPASSWORD=... \\',
    '  PGSSLMODE=verify-full PGSSLROOTCERT=global-bundle.pem \\',
    '  rds-s3-backup backup --to s3://my-backups/prod --databases all --globals',
    '',
    '# IAM authentication (token signed for the database region), SSE-KMS',
    'rds-s3-backup backup --dbname "host=app-db.abc123.eu-west-1.rds.amazonaws.com user=backup dbname=app" \\',
    '  --auth iam --to s3://my-backups/prod --kms-key-id alias/backups',
    '',
    '# offline, into a directory',
    'rds-s3-backup backup --dbname postgres://me@localhost/app --to file:///var/backups/pg',
  ],
  list: [
    'rds-s3-backup list --from s3://my-backups/prod',
    'rds-s3-backup list --from s3://my-backups/prod --database app --since 2026-11-01 --json',
  ],
  restore: [
    '# latest backup of "app" into a new database of the same name (like pg_restore -C), roles first',
    'PGPASSWORD=... rds-s3-backup restore --from s3://my-backups/prod --database app --latest --globals \\',
    '  --target "host=restore-db.internal user=admin dbname=postgres" --create',
    '',
    '# the newest backup taken at or before a time, into an existing empty database',
    'rds-s3-backup restore --from s3://my-backups/prod --database app --at 2026-11-20T00:00:00Z \\',
    '  --target postgres://admin@restore-db.internal/app_copy',
    '',
    '# one table, without owners; first see what would be restored',
    'rds-s3-backup restore --from s3://my-backups/prod --database app --latest --table sales.orders --list',
    'rds-s3-backup restore --from s3://my-backups/prod --database app --latest --table sales.orders --no-owner \\',
    '  --target "host=localhost dbname=scratch"',
    '',
    '# big database: 4 parallel jobs from a verified local copy',
    'rds-s3-backup restore --from s3://my-backups/prod --key app/20261124T031500Z-1a2b3c4d.dump --jobs 4 \\',
    '  --temp-dir /mnt/scratch --target "host=restore-db.internal dbname=app"',
  ],
  verify: [
    '# restore the latest backup into a throwaway PostgreSQL of the same major and compare with the manifest',
    'rds-s3-backup verify --from s3://my-backups/prod --database app --latest',
    '',
    '# only download and check SHA-256 and the archive TOC (no PostgreSQL needed)',
    'rds-s3-backup verify --from s3://my-backups/prod --database app --latest --integrity-only',
    '',
    '# on a scratch server of your own (a temporary database is created and dropped)',
    'rds-s3-backup verify --from s3://my-backups/prod --database app --at 2026-11-01 --target "host=scratch user=verify"',
  ],
  status: [
    '# every database backed up within 26 hours and verified within 8 days? (exit 0 yes, 1 no)',
    'rds-s3-backup status --from s3://my-backups/prod',
    'rds-s3-backup status --from s3://my-backups/prod --max-age 2d --max-verify-age off --json',
  ],
};

/** Exit codes where a command's differ from the common ones. */
const EXIT_CODES: Partial<Record<Command, string>> = {
  status:
    'Exit codes: 0 every database is within the limits, 1 any database has no complete backup, a backup older than --max-age, a newest verify that failed, or no successful verify within --max-verify-age (also: no backups at all, or the listing failed), 2 invalid arguments.',
};

const GROUP_TITLES: Record<OptionSpec['group'], string> = {
  connection: 'Connection (libpq variables work as in psql)',
  target: 'Where',
  dump: 'What and how',
  upload: 'Upload tuning',
  selection: 'Selection',
  restore: 'Restore',
  output: 'Output',
};

export function commandHelp(command: Command, extra: readonly OptionSpec[] = []): string {
  const lines = [`rds-s3-backup ${command} — ${SUMMARY[command]}`, '', `Usage: rds-s3-backup ${command} [options]`, ''];
  const specs = [...optionsFor(command), ...extra];
  for (const group of Object.keys(GROUP_TITLES) as OptionSpec['group'][]) {
    const inGroup = specs.filter((o) => o.group === group);
    if (inGroup.length === 0) continue;
    lines.push(`${GROUP_TITLES[group]}:`);
    for (const o of inGroup) {
      const flag = o.flag ? `${o.short ? `-${o.short}, ` : ''}--${o.flag}${o.type === 'boolean' ? '' : ' <value>'}` : '(environment only)';
      const env = o.env ? `  [env ${o.env}]` : '';
      const dflt = o.default !== undefined ? `  (default: ${o.default})` : '';
      lines.push(`  ${flag}${env}${dflt}`);
      lines.push(`      ${o.help}`);
    }
    lines.push('');
  }
  lines.push("AWS settings come from the SDK's standard sources: AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ...", '');
  if (EXAMPLES[command].length > 0) lines.push('Examples:', ...EXAMPLES[command].map((l) => (l ? `  ${l}` : '')), '');
  lines.push(
    EXIT_CODES[command] ?? 'Exit codes: 0 success, 1 a backup or operation failed, 2 invalid arguments or configuration, 130 interrupted.',
  );
  return lines.join('\n');
}

export function mainHelp(): string {
  return [
    `rds-s3-backup ${TOOL_VERSION} — streaming, verifiable logical backups of PostgreSQL (RDS) into S3`,
    '',
    'Usage: rds-s3-backup <command> [options]',
    '',
    'Commands:',
    `  backup   ${SUMMARY.backup}`,
    `  list     ${SUMMARY.list}`,
    `  restore  ${SUMMARY.restore}`,
    `  verify   ${SUMMARY.verify}`,
    `  status   ${SUMMARY.status}`,
    '',
    'Run `rds-s3-backup <command> --help` for its options and examples.',
    '',
    'Quick look:',
    '  rds-s3-backup backup --to s3://my-backups/prod --databases all --globals',
    '  rds-s3-backup list --from s3://my-backups/prod',
    '  rds-s3-backup verify --from s3://my-backups/prod --database app --latest',
    '  rds-s3-backup status --from s3://my-backups/prod --max-age 26h --max-verify-age 8d',
    '  rds-s3-backup restore --from s3://my-backups/prod --database app --latest --target "host=... dbname=postgres" --create',
  ].join('\n');
}
