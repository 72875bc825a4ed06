/**
 * What to do about a PostgreSQL client tool's failure, read from its stderr. Kept apart from the code that runs the
 * tools so every message the user may see is in one place.
 */

/** pg_restore / psql failing during a restore. */
export function restoreHint(stderr: string): string | undefined {
  if (/already exists/.test(stderr))
    return 'the target already has these objects: restore into an empty database, use --create, or --clean to replace them (all inside the one transaction)';
  if (/role ".*" does not exist/.test(stderr))
    return 'the roles of the backup are missing on the target: restore the globals first (restore --globals), or use --no-owner --no-acl';
  if (/password authentication failed|no password supplied/i.test(stderr))
    return 'check the user and password of --target (PGPASSWORD, the secret, or IAM auth)';
  if (/database ".*" does not exist/.test(stderr)) return 'create the database first, or use --create';
  if (/permission denied/i.test(stderr))
    return 'the target user lacks privileges for this restore (try --no-owner --no-acl, or a more privileged user)';
  if (/could not (read|uncompress|decompress)|corrupt|unexpected end of|invalid (compressed|stored block)/i.test(stderr))
    return 'the archive looks damaged: `verify --integrity-only` checks it against its manifest; pick another backup';
  if (/out of shared memory|max_locks_per_transaction/i.test(stderr))
    return 'one transaction holds a lock per object: raise max_locks_per_transaction on the target, or use --no-single-transaction';
  return undefined;
}

/** The program that ran as pg_dump did not produce what pg_dump produces. */
export const DUMP_TOOLS_HINT =
  'the pg_dump that ran does not behave like pg_dump (a wrapper or a broken install?): check --pgtools-dir / RDS_S3_BACKUP_PGTOOLS_DIR, or rebuild the bundled client with `npm run pgtools`';

/** pg_dump failed without a message we recognise: what its exit status says. */
export function dumpExitHint(status: { signal: string | null }): string {
  if (status.signal === 'SIGKILL')
    return 'pg_dump was killed from outside (SIGKILL often means the out-of-memory killer): check memory limits and the system log, then run the backup again';
  if (status.signal !== null)
    return `pg_dump was killed by ${status.signal}: check the system log (a crash or an operator), then run the backup again`;
  return 'nothing was stored: fix what pg_dump reports above and run the backup again';
}

/** pg_dump failing during a backup. */
export function dumpHint(stderr: string): string | undefined {
  if (/password authentication failed|no password supplied|PAM authentication failed/i.test(stderr))
    return 'check the user and password (PGUSER, PGPASSWORD, the secret, or IAM auth settings)';
  if (/database ".*" does not exist/i.test(stderr))
    return 'check the database name (--databases); with `--databases all` it was dropped after the list was taken: run the backup again';
  if (/server version mismatch/i.test(stderr))
    return 'use a pg_dump at least as new as the server: npm run pgtools builds the bundled PostgreSQL 18 client';
  // pg_dump implements --lock-wait-timeout with statement_timeout around its LOCK TABLE statements.
  if (
    /could not obtain lock|lock timeout|canceling statement due to lock timeout/i.test(stderr) ||
    /statement timeout[\s\S]*Query was: LOCK TABLE/i.test(stderr)
  ) {
    return 'another session holds a conflicting lock on a table (pg_dump gave up after --lock-wait-timeout); retry later or raise --lock-wait-timeout';
  }
  if (/out of shared memory|max_locks_per_transaction/i.test(stderr))
    return 'pg_dump locks every table in one transaction: raise max_locks_per_transaction on the server (on RDS: the DB parameter group, then reboot)';
  if (
    /terminating connection|server closed the connection unexpectedly|connection to server .*lost|no connection to the server|SSL SYSCALL error|could not receive data from server/i.test(
      stderr,
    )
  ) {
    return "the server ended pg_dump's session mid-dump (restart, failover, pg_terminate_backend or a crash): nothing was stored; check the server log and run the backup again";
  }
  if (/timeout expired|could not connect|Connection refused|No route to host/i.test(stderr))
    return 'check host, port, security groups and that the server is running (PGHOST, PGPORT, PGCONNECT_TIMEOUT)';
  if (/SSL|certificate/i.test(stderr)) return 'check PGSSLMODE and PGSSLROOTCERT (the CA bundle)';
  return undefined;
}
