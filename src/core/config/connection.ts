import { Secret } from '../secret.ts';
import { bool, type Issues, int, str } from './coerce.ts';
import { checkDatabaseName } from './database-name.ts';
import { type ConnInfo, parseConnInfo } from './conninfo.ts';
import type { RawValues } from './raw.ts';
import { parseTargetUrl, type TargetUrl } from './target-url.ts';

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
type SslMode = (typeof SSL_MODES)[number];
const AUTH_MODES = ['password', 'secret', 'iam'] as const;

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

export function target(raw: RawValues, key: 'to' | 'from', issues: Issues): TargetUrl | undefined {
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

export function output(raw: RawValues, issues: Issues): OutputSettings {
  return { json: bool(raw, 'json', issues, false), quiet: bool(raw, 'quiet', issues, false) };
}

export function connection(raw: RawValues, issues: Issues): ConnectionSettings {
  let ci: ConnInfo = {};
  const dbname = str(raw, 'dbname');
  if (dbname) {
    const parsed = parseConnInfo(dbname);
    if (typeof parsed === 'string') issues.add('dbname', parsed);
    else ci = parsed;
  }
  // libpq connects to hostaddr but checks TLS and the password file against host; the pg client and the tools here
  // would not do both, so it is refused rather than used as the host.
  if (ci.hostaddr !== undefined)
    issues.add('dbname', 'hostaddr is not supported: give the server as host= (a name, or an IP address with sslmode below verify-full)');
  // Our sessions carry our own names: a restore finds (and ends) its own session by a unique application_name.
  if (ci.application_name !== undefined)
    issues.add('dbname', 'application_name is not supported: rds-s3-backup names its own sessions (rds-s3-backup, or a per-restore name)');
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

export function auth(raw: RawValues, issues: Issues): AuthSettings {
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
