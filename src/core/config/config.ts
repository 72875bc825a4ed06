import { ConfigError, type ConfigIssue } from '../errors.ts';
import { DEFAULT_COMPRESSION, parseCompression, formatCompression } from './compression.ts';
import { DEFAULT_PART_MIB, DEFAULT_QUEUE_SIZE } from './part-size.ts';
import { parseConnInfo, type ConnInfo } from './conninfo.ts';
import { OPTIONS, optionLabel, optionsFor, type Command, type OptionSpec } from './options.ts';
import { Secret } from '../secret.ts';
import type { BackupSelector } from '../restore/select-backup.ts';
import { parseTargetUrl, type TargetUrl } from './target-url.ts';

export type RawValue = string | boolean;
export type RawValues = Readonly<Record<string, RawValue | undefined>>;

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];
export const AUTH_MODES = ['password', 'secret', 'iam'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export type ConnectionSettings = {
  readonly host: string | null;
  readonly port: number;
  readonly user: string | null;
  readonly database: string;
  readonly password: Secret | null;
  readonly sslmode: SslMode;
  readonly sslrootcert: string | null;
  readonly connectTimeoutSeconds: number;
};

export type AuthSettings =
  | { readonly mode: 'password' }
  | { readonly mode: 'secret'; readonly secretId: string }
  | { readonly mode: 'iam'; readonly region: string | null };

export type OutputSettings = { readonly json: boolean; readonly quiet: boolean };

export type BackupConfig = {
  readonly command: 'backup';
  readonly target: TargetUrl;
  readonly connection: ConnectionSettings;
  readonly auth: AuthSettings;
  readonly databases: 'all' | readonly string[];
  readonly globals: boolean;
  readonly compression: string;
  readonly rowCounts: boolean;
  readonly lockWaitTimeout: string | null;
  readonly pgtoolsDir: string | null;
  readonly partSizeMinBytes: number;
  readonly queueSize: number;
  readonly kmsKeyId: string | null;
  readonly output: OutputSettings;
};

export type ListConfig = {
  readonly command: 'list';
  readonly target: TargetUrl;
  readonly database: string | null;
  readonly since: Date | null;
  readonly until: Date | null;
  readonly output: OutputSettings;
};

/** Merge sources: flags win over the environment; the environment only feeds options that name a variable. */
export function collectRaw(command: Command, flags: RawValues, env: Readonly<Record<string, string | undefined>>): RawValues {
  const out: Record<string, RawValue | undefined> = {};
  for (const o of optionsFor(command)) {
    const fromFlag = flags[o.key];
    if (fromFlag !== undefined) out[o.key] = fromFlag;
    else if (o.env && env[o.env] !== undefined && env[o.env] !== '') out[o.key] = env[o.env];
  }
  // `list`/`restore`/`verify` read where backup wrote unless told otherwise.
  if (command !== 'backup' && out.from === undefined && env.RDS_S3_BACKUP_TO) out.from = env.RDS_S3_BACKUP_TO;
  return out;
}

class Issues {
  readonly list: ConfigIssue[] = [];
  add(key: string, message: string): void {
    const spec = (OPTIONS as readonly OptionSpec[]).find((o) => o.key === key);
    this.list.push({ field: spec ? optionLabel(spec) : key, message });
  }
}

function str(raw: RawValues, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v.trim() : String(v);
}

function bool(raw: RawValues, key: string, issues: Issues, dflt: boolean): boolean {
  const v = raw[key];
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  const s = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  issues.add(key, 'must be true or false');
  return dflt;
}

function int(raw: RawValues, key: string, issues: Issues, dflt: number, min: number, max: number): number {
  const s = str(raw, key);
  if (s === undefined) return dflt;
  if (!/^\d+$/.test(s)) {
    issues.add(key, `must be a whole number between ${min} and ${max}`);
    return dflt;
  }
  const n = Number(s);
  if (n < min || n > max) {
    issues.add(key, `must be between ${min} and ${max}`);
    return dflt;
  }
  return n;
}

const MAX_NAME_BYTES = 63;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this pattern rejects
const CONTROL = /[\u0000-\u001f\u007f]/;

/** PostgreSQL identifiers: up to 63 bytes, no control characters (NUL cannot exist in a name). */
export function checkDatabaseName(name: string): string | undefined {
  if (name.length === 0) return 'database name is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return 'database name is longer than 63 bytes';
  if (CONTROL.test(name)) return 'database name contains control characters';
  return undefined;
}

function target(raw: RawValues, key: 'to' | 'from', issues: Issues): TargetUrl | undefined {
  const s = str(raw, key);
  if (!s) {
    issues.add(key, 'is required (s3://bucket/prefix or file:///path)');
    return undefined;
  }
  const t = parseTargetUrl(s);
  if (typeof t === 'string') {
    issues.add(key, t);
    return undefined;
  }
  return t;
}

function output(raw: RawValues, issues: Issues): OutputSettings {
  return { json: bool(raw, 'json', issues, false), quiet: bool(raw, 'quiet', issues, false) };
}

function connection(raw: RawValues, issues: Issues): ConnectionSettings {
  let ci: ConnInfo = {};
  const dbname = str(raw, 'dbname');
  if (dbname) {
    const parsed = parseConnInfo(dbname);
    if (typeof parsed === 'string') issues.add('dbname', parsed);
    else ci = parsed;
  }
  const pick = (key: string, ciKey: keyof ConnInfo): string | undefined => str(raw, key) ?? ci[ciKey];
  const sslmode = (pick('sslmode', 'sslmode') ?? 'prefer').toLowerCase();
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) issues.add('sslmode', `must be one of ${SSL_MODES.join(', ')}`);
  const portRaw = str(raw, 'port') ?? ci.port;
  const port = int({ port: portRaw }, 'port', issues, 5432, 1, 65535);
  const timeoutRaw = str(raw, 'connectTimeout') ?? ci.connect_timeout;
  const connectTimeoutSeconds = int({ connectTimeout: timeoutRaw }, 'connectTimeout', issues, 10, 1, 3600);
  const database = ci.dbname ?? str(raw, 'connectDatabase') ?? 'postgres';
  const dbIssue = checkDatabaseName(database);
  if (dbIssue) issues.add('connectDatabase', dbIssue);
  const password = ci.password ?? str(raw, 'password');
  const sslrootcert = pick('sslrootcert', 'sslrootcert') ?? null;
  if ((sslmode === 'verify-full' || sslmode === 'verify-ca') && !sslrootcert) {
    issues.add('sslrootcert', `is required with sslmode=${sslmode} (the CA bundle file, e.g. the AWS RDS CA bundle)`);
  }
  return {
    host: pick('host', 'host') ?? null,
    port,
    user: pick('user', 'user') ?? null,
    database,
    password: password ? new Secret(password) : null,
    sslmode: sslmode as SslMode,
    sslrootcert,
    connectTimeoutSeconds,
  };
}

function auth(raw: RawValues, issues: Issues): AuthSettings {
  const mode = (str(raw, 'auth') ?? (str(raw, 'secretId') ? 'secret' : 'password')).toLowerCase();
  if (mode === 'secret') {
    const secretId = str(raw, 'secretId');
    if (!secretId) {
      issues.add('secretId', 'is required with --auth secret');
      return { mode: 'password' };
    }
    return { mode: 'secret', secretId };
  }
  if (mode === 'iam') return { mode: 'iam', region: str(raw, 'dbRegion') ?? null };
  if (mode !== 'password') issues.add('auth', `must be one of ${AUTH_MODES.join(', ')}`);
  return { mode: 'password' };
}

function lockWaitTimeout(raw: RawValues, issues: Issues): string | null {
  const s = str(raw, 'lockWaitTimeout') ?? '2min';
  if (s === '0' || s.toLowerCase() === 'none') return null;
  // pg_dump passes it to SET lock_timeout: a number of ms or a quantity with a unit.
  const m = /^(\d+)\s*(ms|s|min|h)?$/i.exec(s);
  if (!m) {
    issues.add('lockWaitTimeout', 'must be a duration such as 500ms, 30s, 2min or 1h (0 = wait forever)');
    return null;
  }
  // The server takes at most INT_MAX milliseconds; a larger value would only fail once pg_dump runs.
  const ms = Number(m[1]) * ({ ms: 1, s: 1000, min: 60_000, h: 3_600_000 } as Record<string, number>)[(m[2] ?? 'ms').toLowerCase()]!;
  if (ms > 2_147_483_647) {
    issues.add('lockWaitTimeout', 'must be at most 596h (the server limit of 2147483647 ms)');
    return null;
  }
  return s.replace(/\s+/g, '');
}

function databases(raw: RawValues, issues: Issues, fallback: string): 'all' | readonly string[] {
  const v = raw.databases;
  if (v === undefined) return [fallback];
  const list = (typeof v === 'string' ? v : '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
  if (list.length === 1 && list[0]!.toLowerCase() === 'all') return 'all';
  if (list.length === 0) {
    issues.add('databases', 'is empty; give names separated by commas, or "all"');
    return [];
  }
  for (const d of list) {
    const bad = checkDatabaseName(d);
    if (bad) issues.add('databases', bad);
  }
  return Object.freeze([...new Set(list)]);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Secret) && !(o instanceof Date)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export function parseBackupConfig(raw: RawValues): BackupConfig {
  const issues = new Issues();
  const known = new Set(optionsFor('backup').map((o) => o.key));
  for (const k of Object.keys(raw)) if (raw[k] !== undefined && !known.has(k)) issues.add(k, 'is not an option of backup');
  const t = target(raw, 'to', issues);
  const conn = connection(raw, issues);
  const a = auth(raw, issues);
  const c = parseCompression(str(raw, 'compress') ?? DEFAULT_COMPRESSION);
  if (typeof c === 'string') issues.add('compress', c);
  const cfg: BackupConfig = {
    command: 'backup',
    target: t ?? { kind: 'file', root: '/', prefix: '', url: '' },
    connection: conn,
    auth: a,
    databases: databases(raw, issues, conn.database),
    globals: bool(raw, 'globals', issues, false),
    compression: typeof c === 'string' ? 'none' : formatCompression(c),
    rowCounts: bool(raw, 'rowCounts', issues, false),
    lockWaitTimeout: lockWaitTimeout(raw, issues),
    pgtoolsDir: str(raw, 'pgtoolsDir') || null,
    partSizeMinBytes: int(raw, 'partSizeMb', issues, DEFAULT_PART_MIB, 5, 5120) * 1024 * 1024,
    queueSize: int(raw, 'queueSize', issues, DEFAULT_QUEUE_SIZE, 1, 64),
    kmsKeyId: str(raw, 'kmsKeyId') || null,
    output: output(raw, issues),
  };
  if (issues.list.length > 0) throw new ConfigError(issues.list);
  return deepFreeze(cfg);
}

function date(raw: RawValues, key: string, issues: Issues): Date | null {
  const s = str(raw, key);
  if (!s) return null;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) {
    issues.add(key, 'must be an ISO 8601 time such as 2026-11-24 or 2026-11-24T03:00:00Z');
    return null;
  }
  return d;
}

export function parseListConfig(raw: RawValues): ListConfig {
  const issues = new Issues();
  const t = target(raw, 'from', issues);
  const database = str(raw, 'database') || null;
  if (database) {
    const bad = checkDatabaseName(database);
    if (bad) issues.add('database', bad);
  }
  const cfg: ListConfig = {
    command: 'list',
    target: t ?? { kind: 'file', root: '/', prefix: '', url: '' },
    database,
    since: date(raw, 'since', issues),
    until: date(raw, 'until', issues),
    output: output(raw, issues),
  };
  if (issues.list.length > 0) throw new ConfigError(issues.list);
  return deepFreeze(cfg);
}

// ---- restore / verify -------------------------------------------------------------------------------------

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
  readonly schemas: readonly string[];
  readonly tables: readonly string[];
  readonly list: boolean;
  readonly tempDir: string | null;
  readonly pgtoolsDir: string | null;
  readonly output: OutputSettings;
};

export type VerifyConfig = {
  readonly command: 'verify';
  readonly source: TargetUrl;
  readonly database: string | null;
  readonly selector: BackupSelector;
  /** A user-provided scratch server; null: a throwaway embedded server. */
  readonly target: RestoreTargetSettings | null;
  readonly integrityOnly: boolean;
  readonly record: boolean;
  readonly pgtoolsDir: string | null;
  readonly output: OutputSettings;
};

function unknownKeys(command: Command, raw: RawValues, issues: Issues): void {
  const known = new Set(optionsFor(command).map((o) => o.key));
  for (const k of Object.keys(raw)) if (raw[k] !== undefined && !known.has(k)) issues.add(k, `is not an option of ${command}`);
}

function selector(raw: RawValues, issues: Issues): BackupSelector {
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

function restoreTarget(raw: RawValues, issues: Issues): RestoreTargetSettings | null {
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
  // Reuse the backup's connection rules: flags, then the conninfo, then libpq's variables.
  const conn = connection({ ...raw, dbname: t, connectDatabase: undefined }, issues);
  return { connection: conn, auth: auth(raw, issues), database: parsed.dbname ?? null };
}

function selectedDatabase(raw: RawValues, issues: Issues): string | null {
  const database = str(raw, 'database') || null;
  if (database) {
    const bad = checkDatabaseName(database);
    if (bad) issues.add('database', bad);
  }
  return database;
}

function nameList(raw: RawValues, key: string): string[] {
  const v = str(raw, key);
  if (!v) return [];
  return [
    ...new Set(
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
  ];
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
    schemas: nameList(raw, 'schema'),
    tables: nameList(raw, 'table'),
    list,
    tempDir: str(raw, 'tempDir') || null,
    pgtoolsDir: str(raw, 'pgtoolsDir') || null,
    output: output(raw, issues),
  };
  if (issues.list.length > 0) throw new ConfigError(issues.list);
  return deepFreeze(cfg);
}

export function parseVerifyConfig(raw: RawValues): VerifyConfig {
  const issues = new Issues();
  unknownKeys('verify', raw, issues);
  const source = target(raw, 'from', issues);
  const sel = selector(raw, issues);
  const database = selectedDatabase(raw, issues);
  if (!database && sel.by !== 'key') issues.add('database', 'is required (or a --key that names the backup)');
  const cfg: VerifyConfig = {
    command: 'verify',
    source: source ?? { kind: 'file', root: '/', prefix: '', url: '' },
    database,
    selector: sel,
    target: restoreTarget(raw, issues),
    integrityOnly: bool(raw, 'integrityOnly', issues, false),
    record: bool(raw, 'record', issues, true),
    pgtoolsDir: str(raw, 'pgtoolsDir') || null,
    output: output(raw, issues),
  };
  if (issues.list.length > 0) throw new ConfigError(issues.list);
  return deepFreeze(cfg);
}
