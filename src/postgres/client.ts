import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import pg from 'pg';
import { SYSTEM_ROOTS } from '../core/config/tls-defaults.ts';
import { ConnectionError, describeError } from '../core/errors.ts';
import { passwordNeedsScram, type ResolvedConnection } from './credentials.ts';

type SslOption = false | { rejectUnauthorized: boolean; ca?: string; servername?: string; checkServerIdentity?: () => undefined };

function sslFor(c: ResolvedConnection, attempt: 'ssl' | 'plain'): SslOption {
  if (attempt === 'plain') return false;
  switch (c.sslmode) {
    case 'verify-full':
    case 'verify-ca': {
      let ca: string | undefined;
      try {
        // `system`: Node's own trusted CAs, as libpq's sslrootcert=system uses the system's.
        ca = c.sslrootcert === SYSTEM_ROOTS ? undefined : readFileSync(c.sslrootcert ?? '', 'utf8');
      } catch (err) {
        throw new ConnectionError(`cannot read the CA bundle ${c.sslrootcert}: ${describeError(err)}`, {
          cause: err,
          hint: 'set PGSSLROOTCERT to the CA bundle file',
        });
      }
      const roots = ca === undefined ? {} : { ca };
      return c.sslmode === 'verify-full'
        ? { rejectUnauthorized: true, ...roots, ...(c.host && isIP(c.host) === 0 ? { servername: c.host } : {}) }
        : { rejectUnauthorized: true, ...roots, checkServerIdentity: () => undefined };
    }
    default:
      return { rejectUnauthorized: false };
  }
}

/** Session settings for a connection that must stay out of the way (the progress probe). */
type SessionOptions = {
  readonly applicationName?: string;
  readonly statementTimeoutMs?: number;
  readonly lockTimeoutMs?: number;
};

/** Connect with libpq's sslmode semantics (prefer/allow fall back to plain text, as libpq does). */
export async function connect(c: ResolvedConnection, database: string = c.database, session: SessionOptions = {}): Promise<pg.Client> {
  const attempts: ('ssl' | 'plain')[] =
    c.sslmode === 'disable' ? ['plain'] : c.sslmode === 'allow' ? ['plain', 'ssl'] : c.sslmode === 'prefer' ? ['ssl', 'plain'] : ['ssl'];
  let lastErr: unknown;
  for (const attempt of attempts) {
    const pw = await c.password();
    // Unverified server: the password is handed to pg only for SCRAM. pg asks this function when the server asks
    // for a password; the listeners below (registered before pg's own) see which kind was asked for first.
    const guard = passwordNeedsScram(c);
    let asked: string | null = null;
    const password = guard
      ? async (): Promise<string> => {
          if (asked) throw unverifiedPasswordError(c, asked);
          return pw?.reveal() ?? '';
        }
      : pw?.reveal();
    const client = new pg.Client({
      ...(c.host ? { host: c.host } : {}),
      port: c.port,
      ...(c.user ? { user: c.user } : {}),
      ...(password !== undefined ? { password } : {}),
      database,
      ssl: sslFor(c, attempt),
      connectionTimeoutMillis: c.connectTimeoutSeconds * 1000,
      application_name: session.applicationName ?? 'rds-s3-backup',
      ...(session.statementTimeoutMs !== undefined ? { statement_timeout: session.statementTimeoutMs } : {}),
      ...(session.lockTimeoutMs !== undefined ? { lock_timeout: session.lockTimeoutMs } : {}),
    });
    client.on('error', () => {
      // Errors after connect surface on the next query; an unhandled 'error' event would crash the process.
    });
    if (guard) {
      client.connection.on('authenticationCleartextPassword', () => {
        asked ??= 'a cleartext password';
      });
      client.connection.on('authenticationMD5Password', () => {
        asked ??= 'an MD5 password hash';
      });
    }
    try {
      await client.connect();
      return client;
    } catch (err) {
      lastErr = err;
      await client.end().catch(() => undefined);
      if (err instanceof ConnectionError) throw err;
      const msg = describeError(err);
      const sslRefused = /does not support SSL/i.test(msg);
      // As libpq: allow/prefer try the other kind when the server refuses this one (pg_hba.conf `reject` lines say
      // "pg_hba.conf rejects connection", missing lines "no pg_hba.conf entry").
      if (!(attempt === 'ssl' && sslRefused) && !(attempt === 'plain' && /pg_hba\.conf|SSL/i.test(msg))) break;
    }
  }
  throw connectionError(c, database, lastErr);
}

function unverifiedPasswordError(c: ResolvedConnection, what: string): ConnectionError {
  return new ConnectionError(
    `refusing to send the password to ${c.host}:${c.port}: the server asked for ${what}, and its TLS certificate was not verified (sslmode=${c.sslmode}); a server posing as yours would receive it`,
    {
      hint: 'connect with --sslmode verify-full and --sslrootcert (for RDS: the AWS RDS CA bundle), or have the server use scram-sha-256; --allow-unverified-password sends it anyway',
    },
  );
}

function connectionError(c: ResolvedConnection, database: string, err: unknown): ConnectionError {
  const msg = describeError(err);
  const where = `${c.user ?? '(default user)'}@${c.host ?? '(local socket)'}:${c.port}/${database}`;
  let hint: string | undefined;
  if (/password authentication failed|no password|PAM|SASL/i.test(msg))
    hint =
      c.authMode === 'iam'
        ? 'IAM auth failed: the user needs the rds_iam role and the caller rds-db:connect'
        : 'check the user and password';
  else if (/does not exist/i.test(msg)) hint = 'check the database name';
  else if (/timeout|ECONNREFUSED|EHOSTUNREACH|ENOTFOUND|ETIMEDOUT/i.test(msg))
    hint = 'the server is unreachable: check host, port, security groups, and that it is running';
  else if (/does not support SSL/i.test(msg))
    hint = `the server does not offer TLS but sslmode=${c.sslmode} demands it: check that PGHOST/PGPORT reach the intended server (RDS always offers TLS)`;
  else if (/pg_hba\.conf.*no encryption/i.test(msg))
    hint =
      'the server only accepts TLS connections (like RDS with rds.force_ssl=1): use PGSSLMODE=verify-full with PGSSLROOTCERT set to the CA bundle';
  else if (/pg_hba\.conf/i.test(msg))
    hint =
      "the server's pg_hba.conf does not admit this user, database and client address (on RDS: check the security group and the user's grants)";
  else if (/certificate|SSL|self.signed/i.test(msg)) hint = 'TLS failed: check PGSSLMODE and PGSSLROOTCERT';
  return new ConnectionError(`cannot connect to ${where}: ${msg}`, { cause: err, hint });
}
