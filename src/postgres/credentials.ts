// Loaded on first use: most runs need only one auth mode, and every SDK client costs start-up time and memory.
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AuthSettings, ConnectionSettings } from '../core/config/connection.ts';
import { CredentialsError, describeError } from '../core/errors.ts';
import { Secret } from '../core/secret.ts';
import type { Env } from '../core/env.ts';

/** The connection as it will be used: configured settings completed by the secret, plus how to get a password. */
export type ResolvedConnection = {
  readonly host: string | null;
  readonly port: number;
  readonly user: string | null;
  readonly database: string;
  readonly sslmode: ConnectionSettings['sslmode'];
  readonly sslrootcert: string | null;
  readonly connectTimeoutSeconds: number;
  readonly authMode: AuthSettings['mode'];
  /** The environment libpq may fall back to for a password file (PGPASSFILE, HOME/.pgpass). */
  readonly env: Env;
  /** Called for every new connection: IAM tokens live 15 minutes. */
  password(): Promise<Secret | null>;
};

/** The RDS-managed secret shape. Extra keys are ignored. */
export type RdsSecret = { username?: string; password: string; host?: string; port?: number | string; dbname?: string };

export function parseRdsSecret(text: string | undefined): RdsSecret {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? '');
  } catch {
    throw new CredentialsError('the secret is not JSON in the RDS shape {"username": ..., "password": ...}');
  }
  const o = raw as Record<string, unknown>;
  if (!o || typeof o !== 'object' || typeof o.password !== 'string' || o.password.length === 0) {
    throw new CredentialsError(
      'the secret has no "password" field (expected the RDS shape {"username", "password", "host", "port", "dbname"})',
    );
  }
  return {
    password: o.password,
    ...(typeof o.username === 'string' ? { username: o.username } : {}),
    ...(typeof o.host === 'string' ? { host: o.host } : {}),
    ...(typeof o.port === 'number' || typeof o.port === 'string' ? { port: o.port } : {}),
    ...(typeof o.dbname === 'string' ? { dbname: o.dbname } : {}),
  };
}

async function fetchSecret(secretId: string, client?: SecretsManagerClient): Promise<RdsSecret> {
  let text: string | undefined;
  try {
    const sm = await import('@aws-sdk/client-secrets-manager');
    const r = await (client ?? new sm.SecretsManagerClient({})).send(new sm.GetSecretValueCommand({ SecretId: secretId }));
    text = r.SecretString;
  } catch (err) {
    throw new CredentialsError(`reading secret ${secretId} from Secrets Manager failed: ${describeError(err)}`, {
      cause: err,
      hint: 'check the secret ARN, secretsmanager:GetSecretValue on it (and kms:Decrypt on its key), and the network path to Secrets Manager',
    });
  }
  const secret = parseRdsSecret(text);
  // Registered for redaction as soon as it is in memory.
  new Secret(secret.password);
  return secret;
}

/** The IAM token must be signed for the database's region, which is not necessarily the bucket's. */
export function regionForIam(configured: string | null, host: string | null, env: Env): string | null {
  if (configured) return configured;
  const m = host ? /\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.rds\.amazonaws\.com(?:\.cn)?$/.exec(host) : null;
  if (m) return m[1]!;
  return env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? null;
}

export type IamSigner = (p: { hostname: string; port: number; username: string; region: string }) => Promise<string>;

const defaultIamSigner: IamSigner = async (p) => {
  const { Signer } = await import('@aws-sdk/rds-signer');
  return new Signer(p).getAuthToken();
};

export async function resolveConnection(
  conn: ConnectionSettings,
  auth: AuthSettings,
  deps: { readonly env: Env; readonly secrets?: SecretsManagerClient; readonly signer?: IamSigner | undefined },
): Promise<ResolvedConnection> {
  const env = deps.env;
  const base = {
    host: conn.host,
    port: conn.port,
    user: conn.user,
    database: conn.database,
    sslmode: conn.sslmode,
    sslrootcert: conn.sslrootcert,
    connectTimeoutSeconds: conn.connectTimeoutSeconds,
    authMode: auth.mode,
    env,
  };
  if (auth.mode === 'password') {
    return { ...base, password: async () => conn.password };
  }
  if (auth.mode === 'secret') {
    const s = await fetchSecret(auth.secretId, deps.secrets);
    const port = conn.host === null && s.port !== undefined ? Number(s.port) : conn.port;
    const password = new Secret(s.password);
    return {
      ...base,
      host: conn.host ?? s.host ?? null,
      port: Number.isInteger(port) ? port : conn.port,
      user: conn.user ?? s.username ?? null,
      password: async () => password,
    };
  }
  const region = regionForIam(auth.region, conn.host, env);
  if (!conn.host || !conn.user) throw new CredentialsError('IAM authentication needs the host (PGHOST) and the user (PGUSER)');
  if (!region) throw new CredentialsError('IAM authentication needs the database region: set --db-region / RDS_S3_BACKUP_DB_REGION');
  const sign = deps.signer ?? defaultIamSigner;
  const host = conn.host;
  const user = conn.user;
  return {
    ...base,
    password: async () => {
      try {
        return new Secret(await sign({ hostname: host, port: conn.port, username: user, region }));
      } catch (err) {
        throw new CredentialsError(`generating the RDS IAM auth token failed: ${describeError(err)}`, {
          cause: err,
          hint: 'the function needs AWS credentials with rds-db:connect on this database user',
        });
      }
    },
  };
}

/** Environment for a pg tool: only libpq's variables, built from scratch (nothing else of ours leaks in). */
export async function libpqEnv(c: ResolvedConnection): Promise<Record<string, string>> {
  const parentEnv = c.env;
  const env: Record<string, string> = {
    PGPORT: String(c.port),
    PGSSLMODE: c.sslmode,
    PGCONNECT_TIMEOUT: String(c.connectTimeoutSeconds),
    PGAPPNAME: 'rds-s3-backup',
    LC_ALL: 'C.UTF-8',
    PATH: '/usr/bin:/bin',
  };
  if (c.host) env.PGHOST = c.host;
  if (c.user) env.PGUSER = c.user;
  if (c.sslrootcert) env.PGSSLROOTCERT = c.sslrootcert;
  const pw = await c.password();
  if (pw) env.PGPASSWORD = pw.reveal();
  else if (parentEnv.PGPASSFILE) env.PGPASSFILE = parentEnv.PGPASSFILE;
  if (parentEnv.HOME && !pw) env.HOME = parentEnv.HOME; // libpq's default ~/.pgpass
  return env;
}
