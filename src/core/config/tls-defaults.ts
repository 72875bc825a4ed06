import { isIP } from 'node:net';

/**
 * The CLI's TLS and password defaults. libpq's own default (sslmode=prefer, no certificate check) lets anyone on
 * the network path pose as the server: the client then hands over a cleartext password, an MD5 hash (replayable
 * to that server, crackable offline) or an RDS IAM token. So:
 * - a host that is not this machine gets sslmode=verify-full by default, and so does any host with --auth
 *   iam|secret (the token or the secret's password is worth stealing wherever the server is);
 * - a root certificate given means the server's certificate is checked (as libpq does for sslmode=require);
 * - a password is sent in a form a fake server can use (cleartext or MD5) only to a server whose certificate
 *   was verified, or over a Unix socket, unless --allow-unverified-password says otherwise.
 */

/** sslrootcert=system: the system's trusted CAs (libpq ≥ 16; Node's default CA list for the `pg` client). */
export const SYSTEM_ROOTS = 'system';

export function isLocalHost(host: string | null): boolean {
  if (host === null || host === '') return true;
  // libpq takes a comma-separated list: all of them must be local.
  return host.split(',').every((h) => {
    const t = h.trim().replace(/^\[|\]$/g, '');
    if (t.startsWith('/') || t.startsWith('@')) return true; // Unix socket directory (or abstract namespace)
    if (t === 'localhost') return true;
    if (isIP(t) === 4) return t.startsWith('127.');
    if (isIP(t) === 6) return t === '::1';
    return false;
  });
}

/** Whether the connection goes over a Unix socket (no network path to spoof). */
export function isUnixSocket(host: string | null): boolean {
  return host === null || host === '' || host.split(',').every((h) => h.trim().startsWith('/') || h.trim().startsWith('@'));
}

export type TlsChoice = { readonly sslmode: string; readonly sslrootcert: string | null; readonly note: string | null };

/** The effective sslmode/sslrootcert from what was configured (undefined: not set anywhere). */
export function tlsDefaults(p: {
  readonly host: string | null;
  readonly sslmode: string | undefined;
  readonly sslrootcert: string | undefined;
  readonly authMode: string;
}): TlsChoice {
  // An empty value (PGSSLROOTCERT=) means "not set", as in libpq.
  let sslmode = p.sslmode ? p.sslmode.toLowerCase() : undefined;
  let sslrootcert = p.sslrootcert ? p.sslrootcert : null;
  let note: string | null = null;
  if (sslmode === undefined) {
    const remote = !isLocalHost(p.host);
    if (remote || p.authMode === 'iam' || p.authMode === 'secret') {
      sslmode = 'verify-full';
      if (sslrootcert === null) sslrootcert = SYSTEM_ROOTS;
      note = remote ? 'verify-full: the host is not this machine' : `verify-full: --auth ${p.authMode}`;
    } else sslmode = 'prefer';
  }
  // As libpq: with a root certificate, TLS means a checked certificate (and no silent fall-back to plain text).
  if (sslrootcert !== null && (sslmode === 'allow' || sslmode === 'prefer' || sslmode === 'require')) {
    sslmode = sslrootcert === SYSTEM_ROOTS ? 'verify-full' : 'verify-ca';
  }
  return { sslmode, sslrootcert, note };
}

/** Whether the server's certificate is checked before any password goes out. */
export function serverVerified(sslmode: string): boolean {
  return sslmode === 'verify-ca' || sslmode === 'verify-full';
}

/** libpq's require_auth (PostgreSQL ≥ 16 clients) for a connection whose server is not verified. */
export const REQUIRE_AUTH_UNVERIFIED = '!password,!md5';
