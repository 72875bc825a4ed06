import type { CatalogEntry } from '../catalog/listing.ts';
import { BackupToolError, ExitCode } from '../errors.ts';
import { normalizePrefix, parseKey, type BackupKind } from '../catalog/keys.ts';

/** How restore and verify name the backup they want. */
export type BackupSelector =
  | { readonly by: 'latest' }
  /** The newest complete backup that started at or before this time. */
  | { readonly by: 'at'; readonly at: Date }
  /** A data key, manifest key or verify key (as `list --json` prints them), or a bare backup id. */
  | { readonly by: 'key'; readonly key: string };

/** Nothing (or nothing usable) matches the selection: the bucket says so, not the user's syntax. */
export class SelectionError extends BackupToolError {}

export type Selection = {
  readonly entry: CatalogEntry;
  /** Newer (or, with --at, later-but-still-eligible-by-time) entries passed over because they are not complete. */
  readonly skipped: readonly CatalogEntry[];
};

function describeSelector(s: BackupSelector): string {
  if (s.by === 'latest') return 'the latest backup';
  if (s.by === 'at') return `the newest backup started at or before ${s.at.toISOString()}`;
  return `backup ${s.key}`;
}

/** The id named by a --key value: a full key, a key relative to the store prefix, or the id itself. */
export function idFromKey(prefix: string, key: string): { id: string; database: string | null; kind: BackupKind | null } | undefined {
  const trimmed = key.trim().replace(/^\/+/, '');
  if (/^\d{8}T\d{6}Z-[0-9a-f]{8}$/.test(trimmed)) return { id: trimmed, database: null, kind: null };
  const candidates = [trimmed];
  const p = normalizePrefix(prefix);
  if (p && !trimmed.startsWith(p + '/')) candidates.push(`${p}/${trimmed}`);
  for (const k of candidates) {
    const parsed = parseKey(prefix, k);
    if (parsed) return { id: parsed.id, database: parsed.database, kind: parsed.kind };
  }
  return undefined;
}

/**
 * Picks one backup from a catalog listing (newest first). Only complete backups (manifest present, valid and
 * matching its object) are candidates; an explicitly named key that is not complete is refused with the reason.
 */
export function selectBackup(
  entries: readonly CatalogEntry[],
  selector: BackupSelector,
  want: { readonly kind: BackupKind; readonly database: string | null },
  prefix: string,
): Selection {
  const what = want.kind === 'globals' ? 'globals (roles)' : `database ${JSON.stringify(want.database)}`;
  const mine = entries.filter((e) => e.kind === want.kind && (want.kind === 'globals' || e.database === want.database));
  if (selector.by === 'key') {
    const named = idFromKey(prefix, selector.key);
    if (!named) {
      throw new SelectionError(`--key ${JSON.stringify(selector.key)} is not a backup key or id of this tool`, {
        exitCode: ExitCode.usage,
        hint: 'use a key or id as `rds-s3-backup list --json` prints it',
      });
    }
    const entry = mine.find((e) => e.id === named.id);
    if (!entry) {
      throw new SelectionError(`no backup ${named.id} of ${what} in this location`, {
        hint:
          named.database !== null && named.database !== want.database
            ? `that key belongs to database ${JSON.stringify(named.database)}`
            : 'check --from and --database with `rds-s3-backup list`',
      });
    }
    if (entry.status !== 'complete')
      throw new SelectionError(
        `backup ${entry.id} of ${what} cannot be restored: ${entry.status}: ${entry.problem ?? 'no reason recorded'}`,
      );
    return { entry, skipped: [] };
  }
  const eligible = selector.by === 'at' ? mine.filter((e) => e.startedAt.getTime() <= selector.at.getTime()) : mine;
  const skipped: CatalogEntry[] = [];
  for (const e of eligible) {
    if (e.status === 'complete') return { entry: e, skipped };
    skipped.push(e);
  }
  const note = skipped.length > 0 ? ` (${skipped.length} incomplete or invalid backup(s) passed over)` : '';
  if (mine.length === 0)
    throw new SelectionError(`no backups of ${what} in this location`, { hint: 'check --from and --database with `rds-s3-backup list`' });
  throw new SelectionError(`no complete backup of ${what} matches: ${describeSelector(selector)}${note}`, {
    hint: selector.by === 'at' ? `the oldest backup started at ${mine.at(-1)!.startedAt.toISOString()}` : undefined,
  });
}
