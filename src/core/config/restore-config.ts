import type { BackupSelector } from '../restore/select-backup.ts';
import { bool, date, finish, Issues, int, nameList, str, unknownKeys } from './coerce.ts';
import {
  type AuthSettings,
  auth,
  type ConnectionSettings,
  connection,
  explicitHost,
  type OutputSettings,
  output,
  target,
} from './connection.ts';
import { parseConnInfo } from './conninfo.ts';
import { checkDatabaseName } from './database-name.ts';
import type { RawValues } from './raw.ts';
import type { TargetUrl } from './target-url.ts';

/** A server restore or verify writes to: connection settings plus the database its conninfo named. */
export type RestoreTargetSettings = {
  readonly connection: ConnectionSettings;
  readonly auth: AuthSettings;
  /** The dbname of --target, or null when it names none. */
  readonly database: string | null;
};

export type RestoreConfig = {
  readonly command: 'restore';
  readonly source: TargetUrl;
  readonly database: string | null;
  readonly selector: BackupSelector;
  readonly globals: boolean;
  /** null only with --list. */
  readonly target: RestoreTargetSettings | null;
  readonly create: boolean;
  readonly clean: boolean;
  readonly noOwner: boolean;
  readonly noAcl: boolean;
  readonly singleTransaction: boolean;
  readonly jobs: number;
  /** Ranged GETs in flight for the download before a parallel (or --create, or statement-by-statement) restore. */
  readonly downloadStreams: number;
  readonly schemas: readonly string[];
  readonly tables: readonly string[];
  readonly list: boolean;
  readonly tempDir: string | null;
  readonly pgtoolsDir: string | null;
  readonly output: OutputSettings;
};

export function selector(raw: RawValues, issues: Issues): BackupSelector {
  const latest = bool(raw, 'latest', issues, false);
  const at = str(raw, 'at');
  const key = str(raw, 'key');
  const given = [latest, Boolean(at), Boolean(key)].filter(Boolean).length;
  if (given === 0) {
    issues.add('latest', 'choose the backup: --latest, --at <time> or --key <key>');
    return { by: 'latest' };
  }
  if (given > 1) {
    issues.add('latest', '--latest, --at and --key are mutually exclusive');
    return { by: 'latest' };
  }
  if (at) {
    const d = date(raw, 'at', issues);
    return d ? { by: 'at', at: d } : { by: 'latest' };
  }
  if (key) return { by: 'key', key };
  return { by: 'latest' };
}

export function restoreTarget(raw: RawValues, issues: Issues): RestoreTargetSettings | null {
  const t = str(raw, 'target');
  if (!t) return null;
  const parsed = parseConnInfo(t);
  if (typeof parsed === 'string') {
    issues.add('target', parsed);
    return null;
  }
  if (parsed.dbname !== undefined) {
    const bad = checkDatabaseName(parsed.dbname);
    if (bad) issues.add('target', bad);
  }
  // The environment may complete a destination but never choose its server: PGHOST is usually the source's.
  if (!explicitHost(raw, parsed))
    issues.add(
      'target',
      'names no host: give host=... (or a postgres://host/... URL, or --host); PGHOST is not used for a restore destination',
    );
  // The backup's connection rules: flag, then the conninfo's component, then libpq's variables.
  const conn = connection({ ...raw, dbname: t, connectDatabase: undefined }, issues);
  return { connection: conn, auth: auth(raw, issues), database: parsed.dbname ?? null };
}

export function selectedDatabase(raw: RawValues, issues: Issues): string | null {
  const database = str(raw, 'database') || null;
  if (database) {
    const bad = checkDatabaseName(database);
    if (bad) issues.add('database', bad);
  }
  return database;
}

export function parseRestoreConfig(raw: RawValues): RestoreConfig {
  const issues = new Issues();
  unknownKeys('restore', raw, issues);
  const source = target(raw, 'from', issues);
  const sel = selector(raw, issues);
  const database = selectedDatabase(raw, issues);
  const globals = bool(raw, 'restoreGlobals', issues, false);
  const list = bool(raw, 'list', issues, false);
  const tgt = restoreTarget(raw, issues);
  if (!database && !globals && sel.by !== 'key') issues.add('database', 'is required (or --globals, or a --key that names the backup)');
  if (!tgt && !list) issues.add('target', 'is required: the server to restore into (conninfo or postgres:// URL)');
  if (list && globals && !database) issues.add('list', 'shows a database archive: give --database');
  const jobs = int(raw, 'jobs', issues, 1, 1, 64);
  const create = bool(raw, 'create', issues, false);
  const clean = bool(raw, 'clean', issues, false);
  if (create && clean) issues.add('clean', 'cannot be combined with --create (the database is new, there is nothing to clean)');
  if (jobs > 1 && raw.singleTransaction !== undefined && bool(raw, 'singleTransaction', issues, true)) {
    issues.add('jobs', 'cannot be combined with --single-transaction: pg_restore -j uses several connections');
  }
  const cfg: RestoreConfig = {
    command: 'restore',
    source: source ?? { kind: 'file', root: '/', prefix: '', url: '' },
    database,
    selector: sel,
    globals,
    target: tgt,
    create,
    clean,
    noOwner: bool(raw, 'noOwner', issues, false),
    noAcl: bool(raw, 'noAcl', issues, false),
    singleTransaction: jobs > 1 ? false : bool(raw, 'singleTransaction', issues, true),
    jobs,
    downloadStreams: int(raw, 'downloadStreams', issues, 4, 1, 16),
    schemas: nameList(raw, 'schema'),
    tables: nameList(raw, 'table'),
    list,
    tempDir: str(raw, 'tempDir') || null,
    pgtoolsDir: str(raw, 'pgtoolsDir') || null,
    output: output(raw, issues),
  };
  return finish(issues, cfg);
}
