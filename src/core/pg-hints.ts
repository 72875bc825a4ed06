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
