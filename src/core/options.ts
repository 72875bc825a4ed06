/**
 * The one table of settings. CLI flags, environment variables, --help, README's option table and the
 * Lambda's environment are all derived from it, so they cannot drift apart.
 */
import { DEFAULT_COMPRESSION } from './compression.ts';
import { DEFAULT_PART_MIB, DEFAULT_QUEUE_SIZE } from './part-size.ts';

export type OptionType = 'string' | 'boolean' | 'integer' | 'list';
export type Command = 'backup' | 'list' | 'restore' | 'verify';

export type OptionSpec = {
  readonly key: string;
  readonly flag: string | null;
  readonly short?: string;
  readonly env: string | null;
  readonly type: OptionType;
  readonly commands: readonly Command[];
  readonly group: 'connection' | 'target' | 'dump' | 'upload' | 'output' | 'selection' | 'restore';
  readonly help: string;
  readonly default?: string;
  /** Never accepted as a flag, never echoed. */
  readonly secret?: boolean;
};

const ALL: readonly Command[] = ['backup', 'list', 'restore', 'verify'];
const DB: readonly Command[] = ['backup', 'restore', 'verify'];
const RV: readonly Command[] = ['restore', 'verify'];

export const OPTIONS = [
  // connection (libpq's own variables first)
  { key: 'dbname', flag: 'dbname', short: 'd', env: null, type: 'string', commands: ['backup'], group: 'connection', help: 'libpq conninfo ("host=... user=...") or URL (postgres://user@host:5432/db?sslmode=verify-full); a password in it is moved to the child environment, never to argv. Its dbname is the database used to connect.' },
  { key: 'host', flag: 'host', env: 'PGHOST', type: 'string', commands: ['backup', 'restore', 'verify'], group: 'connection', help: 'Server host name or address.' },
  { key: 'port', flag: 'port', env: 'PGPORT', type: 'integer', commands: ['backup', 'restore', 'verify'], group: 'connection', help: 'Server port.', default: '5432' },
  { key: 'user', flag: 'username', short: 'U', env: 'PGUSER', type: 'string', commands: ['backup', 'restore', 'verify'], group: 'connection', help: 'Database user (always set it: Lambda has no login user to default to).' },
  { key: 'connectDatabase', flag: 'connect-db', env: 'PGDATABASE', type: 'string', commands: ['backup'], group: 'connection', help: 'Database to connect to for listing databases and server facts; also the default of --databases.', default: 'postgres' },
  { key: 'password', flag: null, env: 'PGPASSWORD', type: 'string', commands: ['backup', 'restore', 'verify'], group: 'connection', help: 'Password (environment only; never a flag). PGPASSFILE works too, as in libpq.', secret: true },
  { key: 'sslmode', flag: 'sslmode', env: 'PGSSLMODE', type: 'string', commands: ['backup', 'restore', 'verify'], group: 'connection', help: 'disable | allow | prefer | require | verify-ca | verify-full. Use verify-full with RDS.', default: 'prefer' },
  { key: 'sslrootcert', flag: 'sslrootcert', env: 'PGSSLROOTCERT', type: 'string', commands: ['backup', 'restore', 'verify'], group: 'connection', help: 'CA bundle file for verify-ca / verify-full (for RDS: the AWS RDS CA bundle).' },
  { key: 'connectTimeout', flag: 'connect-timeout', env: 'PGCONNECT_TIMEOUT', type: 'integer', commands: ['backup', 'restore', 'verify'], group: 'connection', help: 'Seconds to wait for a connection.', default: '10' },
  { key: 'auth', flag: 'auth', env: 'RDS_S3_BACKUP_AUTH', type: 'string', commands: ['backup', 'restore', 'verify'], group: 'connection', help: 'password (PGPASSWORD / PGPASSFILE) | secret (AWS Secrets Manager, see --secret-id) | iam (RDS IAM auth token).', default: 'password' },
  { key: 'secretId', flag: 'secret-id', env: 'RDS_S3_BACKUP_SECRET_ID', type: 'string', commands: ['backup', 'restore', 'verify'], group: 'connection', help: 'Secrets Manager secret ARN or name holding the RDS JSON shape {username, password, host, port, dbname}.' },
  { key: 'dbRegion', flag: 'db-region', env: 'RDS_S3_BACKUP_DB_REGION', type: 'string', commands: ['backup', 'restore', 'verify'], group: 'connection', help: "Region the IAM auth token is signed for: the database's region (default: from an RDS host name, else AWS_REGION)." },
  { key: 'target', flag: 'target', env: null, type: 'string', commands: RV, group: 'connection', help: 'Server to restore into: libpq conninfo or URL, completed by the connection options above (a password in it goes to the child environment, never to argv). Its dbname is the database restored into (default: the backup\'s name); with --create, the database to connect to (default postgres). verify: a scratch server instead of a throwaway one.' },
  // target
  { key: 'to', flag: 'to', env: 'RDS_S3_BACKUP_TO', type: 'string', commands: ['backup'], group: 'target', help: 'Where backups go: s3://bucket/prefix or file:///absolute/path.' },
  { key: 'from', flag: 'from', env: 'RDS_S3_BACKUP_FROM', type: 'string', commands: ['list', 'restore', 'verify'], group: 'target', help: 'Where backups are: s3://bucket/prefix or file:///absolute/path (defaults to RDS_S3_BACKUP_TO).' },
  { key: 'kmsKeyId', flag: 'kms-key-id', env: 'RDS_S3_BACKUP_KMS_KEY_ID', type: 'string', commands: ['backup'], group: 'target', help: 'Encrypt objects with SSE-KMS under this key (ARN, id or alias).' },
  // dump
  { key: 'databases', flag: 'databases', env: 'RDS_S3_BACKUP_DATABASES', type: 'list', commands: ['backup'], group: 'dump', help: 'Comma-separated databases, or "all" (every non-template database you can connect to). Default: the connect database.' },
  { key: 'globals', flag: 'globals', env: 'RDS_S3_BACKUP_GLOBALS', type: 'boolean', commands: ['backup'], group: 'dump', help: 'Also back up roles and tablespaces (pg_dumpall --globals-only --no-role-passwords) as their own object.', default: 'false' },
  { key: 'compress', flag: 'compress', env: 'RDS_S3_BACKUP_COMPRESS', type: 'string', commands: ['backup'], group: 'dump', help: "pg_dump's --compress: none | lz4:N | zstd:N | gzip:N (default chosen by measurement: docs/compression.md).", default: DEFAULT_COMPRESSION },
  { key: 'rowCounts', flag: 'row-counts', env: 'RDS_S3_BACKUP_ROW_COUNTS', type: 'boolean', commands: ['backup'], group: 'dump', help: "Count every table's rows in the dump's own snapshot and record them in the manifest (costs a scan; lets verify compare exact counts).", default: 'false' },
  { key: 'lockWaitTimeout', flag: 'lock-wait-timeout', env: 'RDS_S3_BACKUP_LOCK_WAIT_TIMEOUT', type: 'string', commands: ['backup'], group: 'dump', help: "Give up when a table lock cannot be taken within this time (pg_dump --lock-wait-timeout, e.g. 30s, 2min).", default: '2min' },
  { key: 'pgtoolsDir', flag: 'pgtools-dir', env: 'RDS_S3_BACKUP_PGTOOLS_DIR', type: 'string', commands: DB, group: 'dump', help: 'Directory with bin/pg_dump etc. Default: the bundled PostgreSQL 18 client, then pg_dump on PATH.' },
  // upload
  { key: 'partSizeMb', flag: 'part-size-mb', env: 'RDS_S3_BACKUP_PART_SIZE_MB', type: 'integer', commands: ['backup'], group: 'upload', help: 'Minimum multipart part size in MiB; grows with the database size so a dump can reach 5 TiB.', default: String(DEFAULT_PART_MIB) },
  { key: 'queueSize', flag: 'queue-size', env: 'RDS_S3_BACKUP_QUEUE_SIZE', type: 'integer', commands: ['backup'], group: 'upload', help: 'Parts uploaded in parallel (memory ≈ part size × (queue size + 1)).', default: String(DEFAULT_QUEUE_SIZE) },
  // selection
  { key: 'database', flag: 'database', env: null, type: 'string', commands: ['list', 'restore', 'verify'], group: 'selection', help: 'Only this database.' },
  { key: 'since', flag: 'since', env: null, type: 'string', commands: ['list'], group: 'selection', help: 'Only backups started at or after this time (ISO 8601).' },
  { key: 'until', flag: 'until', env: null, type: 'string', commands: ['list'], group: 'selection', help: 'Only backups started at or before this time (ISO 8601).' },
  { key: 'latest', flag: 'latest', env: null, type: 'boolean', commands: RV, group: 'selection', help: 'The newest complete backup (one with a valid manifest).', default: 'false' },
  { key: 'at', flag: 'at', env: null, type: 'string', commands: RV, group: 'selection', help: 'The newest complete backup started at or before this time (ISO 8601, e.g. 2026-11-24T03:00:00Z).' },
  { key: 'key', flag: 'key', env: null, type: 'string', commands: RV, group: 'selection', help: 'This backup: its object key or manifest key (as `list --json` prints it) or its id; names its database by itself.' },
  // restore
  { key: 'restoreGlobals', flag: 'globals', env: null, type: 'boolean', commands: ['restore'], group: 'restore', help: 'Restore roles (the globals object, chosen like the database backup) first; alone, only the roles. Existing roles are kept and reported.', default: 'false' },
  { key: 'create', flag: 'create', env: null, type: 'boolean', commands: ['restore'], group: 'restore', help: "Create the database under its original name first (pg_restore -C semantics: encoding, locale, comments, settings); it must not exist. Dropped again if the restore fails.", default: 'false' },
  { key: 'clean', flag: 'clean', env: null, type: 'boolean', commands: ['restore'], group: 'restore', help: 'Drop each object before re-creating it (pg_restore --clean --if-exists), inside the same transaction: the old contents are replaced atomically.', default: 'false' },
  { key: 'noOwner', flag: 'no-owner', env: null, type: 'boolean', commands: ['restore'], group: 'restore', help: 'Do not set object owners (pg_restore -O): everything belongs to the target user.', default: 'false' },
  { key: 'noAcl', flag: 'no-acl', env: null, type: 'boolean', commands: ['restore'], group: 'restore', help: 'Do not restore privileges (GRANT/REVOKE; pg_restore -x).', default: 'false' },
  { key: 'schema', flag: 'schema', env: null, type: 'list', commands: ['restore'], group: 'restore', help: "Only these schemas (comma-separated; pg_restore -n: the schemas' objects, not the schemas themselves)." },
  { key: 'table', flag: 'table', env: null, type: 'list', commands: ['restore'], group: 'restore', help: 'Only these tables, views, sequences (comma-separated, table or schema.table; pg_restore -t: definition and data, without indexes or constraints). Checked against the backup before anything runs.' },
  { key: 'singleTransaction', flag: 'single-transaction', env: null, type: 'boolean', commands: ['restore'], group: 'restore', help: 'One transaction: it commits only after the whole object proved intact (SHA-256, length), so a bad object or a failed statement leaves the target unchanged. --no-single-transaction commits object by object.', default: 'true' },
  { key: 'jobs', flag: 'jobs', short: 'j', env: null, type: 'integer', commands: ['restore'], group: 'restore', help: 'Parallel restore with N connections: downloads to --temp-dir (free space checked first), verifies, then pg_restore -j N. Not one transaction (pg_restore cannot do both).', default: '1' },
  { key: 'tempDir', flag: 'temp-dir', env: 'RDS_S3_BACKUP_TEMP_DIR', type: 'string', commands: ['restore'], group: 'restore', help: 'Directory for the downloaded archive with --jobs (default: the system temporary directory).' },
  { key: 'list', flag: 'list', env: null, type: 'boolean', commands: ['restore'], group: 'restore', help: "Dry run: print what would be restored (the archive's TOC after --schema/--table, as pg_restore -l) and touch no server.", default: 'false' },
  // verify
  { key: 'integrityOnly', flag: 'integrity-only', env: null, type: 'boolean', commands: ['verify'], group: 'restore', help: "Only download and check SHA-256, length and the archive's table of contents against the manifest; restore nothing.", default: 'false' },
  { key: 'record', flag: 'record', env: null, type: 'boolean', commands: ['verify'], group: 'restore', help: 'Write the result next to the backup (<id>.verify.json) so `list` shows it; --no-record to skip.', default: 'true' },
  // output
  { key: 'json', flag: 'json', env: null, type: 'boolean', commands: ALL, group: 'output', help: 'Print one JSON document on stdout (for scripts).', default: 'false' },
  { key: 'quiet', flag: 'quiet', short: 'q', env: null, type: 'boolean', commands: ALL, group: 'output', help: 'No progress output.', default: 'false' },
] as const satisfies readonly OptionSpec[];

export type OptionKey = (typeof OPTIONS)[number]['key'];

export function optionsFor(command: Command): readonly OptionSpec[] {
  return (OPTIONS as readonly OptionSpec[]).filter((o) => o.commands.includes(command));
}

export function optionLabel(o: OptionSpec): string {
  const parts = [o.flag ? `--${o.flag}` : null, o.env].filter(Boolean);
  return parts.join(' / ');
}
