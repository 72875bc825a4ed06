import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import pg from 'pg';
import { ConnectionError, describeError } from '../core/errors.ts';
import type { ResolvedConnection } from './credentials.ts';

type SslOption = false | { rejectUnauthorized: boolean; ca?: string; servername?: string; checkServerIdentity?: () => undefined };

function sslFor(c: ResolvedConnection, attempt: 'ssl' | 'plain'): SslOption {
  if (attempt === 'plain') return false;
  switch (c.sslmode) {
    case 'verify-full':
    case 'verify-ca': {
      let ca: string;
      try {
        ca = readFileSync(c.sslrootcert ?? '', 'utf8');
      } catch (err) {
        throw new ConnectionError(`cannot read the CA bundle ${c.sslrootcert}: ${describeError(err)}`, {
          cause: err,
          hint: 'set PGSSLROOTCERT to the CA bundle file',
        });
      }
      return c.sslmode === 'verify-full'
        ? { rejectUnauthorized: true, ca, ...(c.host && isIP(c.host) === 0 ? { servername: c.host } : {}) }
        : { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
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
    const client = new pg.Client({
      ...(c.host ? { host: c.host } : {}),
      port: c.port,
      ...(c.user ? { user: c.user } : {}),
      ...(pw ? { password: pw.reveal() } : {}),
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
    try {
      await client.connect();
      return client;
    } catch (err) {
      lastErr = err;
      await client.end().catch(() => undefined);
      const msg = describeError(err);
      const sslRefused = /does not support SSL/i.test(msg);
      // As libpq: allow/prefer try the other kind when the server refuses this one (pg_hba.conf `reject` lines say
      // "pg_hba.conf rejects connection", missing lines "no pg_hba.conf entry").
      if (!(attempt === 'ssl' && sslRefused) && !(attempt === 'plain' && /pg_hba\.conf|SSL/i.test(msg))) break;
    }
  }
  throw connectionError(c, database, lastErr);
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
