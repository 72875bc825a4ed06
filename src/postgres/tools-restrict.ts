import { ToolError } from '../core/errors.ts';
import { parsePgVersion, probeVersion, type PgTools } from './tools.ts';

/**
 * The first minor release of each major whose pg_dump/pg_restore emit, and whose psql obeys, `\restrict`
 * (CVE-2025-8714: before it, a dump's content could smuggle psql meta-commands that run as the restoring OS
 * user). 18 had it from 18.0; majors before 13 never got it.
 */
const RESTRICT_FIXED: Readonly<Record<number, number>> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };

/** Whether this version of pg_restore/psql has the \restrict fix. */
export function hasRestrictFix(version: string): boolean {
  const v = parsePgVersion(`(PostgreSQL) ${version}`);
  if (!v) return false;
  if (v.major >= 18) return true;
  const fixed = RESTRICT_FIXED[v.major];
  if (fixed === undefined) return false;
  const minor = Number(v.version.split('.')[1] ?? '0');
  return minor >= fixed;
}

/**
 * restore and verify feed archive content through pg_restore into psql: both must have the fix. Checked for
 * each binary, not just pg_dump's version: tools found on PATH can come from different packages.
 */
export async function assertRestrictSupport(tools: PgTools): Promise<void> {
  for (const [name, file] of [
    ['pg_restore', tools.pgRestore],
    ['psql', tools.psql],
  ] as const) {
    const v = await probeVersion(file);
    if (!hasRestrictFix(v.version)) {
      throw new ToolError(
        `${name} ${v.version} (${file}, from ${tools.source}) is too old to restore safely: it lacks the \\restrict protection (CVE-2025-8714), so an archive could run commands on this machine through psql`,
        {
          hint: 'use the bundled PostgreSQL 18 client (`npm run pgtools`), or --pgtools-dir with tools ≥ 17.6, 16.10, 15.14, 14.19 or 13.22',
        },
      );
    }
  }
}

/**
 * libpq before 16 ignores PGREQUIREAUTH: pg_dump/pg_restore/psql would answer a cleartext or MD5 request from an
 * unverified server. Where that rule applies (credentials.ts passwordNeedsScram), such tools are refused.
 */
export function assertRequireAuthSupport(tools: PgTools, needsScram: boolean): void {
  if (needsScram && tools.major < 16) {
    throw new ToolError(
      `the pg tools ${tools.version} (from ${tools.source}) cannot be told to refuse a cleartext or MD5 password request (require_auth needs PostgreSQL 16 or newer), and the server's certificate is not verified`,
      {
        hint: 'use the bundled PostgreSQL 18 client, or --sslmode verify-full with --sslrootcert, or --allow-unverified-password',
      },
    );
  }
}
