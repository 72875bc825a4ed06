// What verify compares: the archive's TOC against the manifest's summary, and the restored tables and row counts
// against what the backup recorded. Pure functions, unit-tested on their own (test/unit/core/restore/verify.test.ts).
import type { TocSummary } from '../archive/toc.ts';
import type { Manifest } from '../catalog/manifest.ts';
import type { TableCounts } from '../ports/database-target.ts';

export type CompareResult = {
  readonly mismatches: string[];
  readonly notes: string[];
  readonly tables: number;
  /** null: no row counts in the manifest. */
  readonly rowCountsChecked: boolean | null;
  readonly rows: number;
};

const MAX_LISTED = 20;

function listSome(items: readonly string[]): string {
  return items.length <= MAX_LISTED ? items.join(', ') : `${items.slice(0, MAX_LISTED).join(', ')} and ${items.length - MAX_LISTED} more`;
}

/** The archive's TOC (as read now) against the summary the manifest recorded at backup time. */
export function compareToc(manifestToc: Manifest['toc'], archive: TocSummary | null): { mismatches: string[]; notes: string[] } {
  const mismatches: string[] = [];
  const notes: string[] = [];
  if (!archive) notes.push('the archive is newer than this tool reads: its TOC was not compared');
  else if (!manifestToc) notes.push('the manifest has no TOC summary to compare with');
  else {
    if (archive.archiveVersion !== manifestToc.archiveVersion)
      mismatches.push(`archive version ${archive.archiveVersion}, manifest says ${manifestToc.archiveVersion}`);
    if (archive.entries !== manifestToc.entries)
      mismatches.push(`TOC has ${archive.entries} entries, manifest says ${manifestToc.entries}`);
    const a = new Set(archive.tables);
    const m = new Set(manifestToc.tables);
    const onlyA = [...a].filter((t) => !m.has(t));
    const onlyM = [...m].filter((t) => !a.has(t));
    if (onlyA.length > 0) mismatches.push(`tables in the archive but not in the manifest: ${listSome(onlyA)}`);
    if (onlyM.length > 0) mismatches.push(`tables in the manifest but not in the archive: ${listSome(onlyM)}`);
    for (const [type, n] of Object.entries(manifestToc.byType)) {
      if ((archive.byType[type] ?? 0) !== n) mismatches.push(`TOC has ${archive.byType[type] ?? 0} ${type} entries, manifest says ${n}`);
    }
  }
  return { mismatches, notes };
}

/** What was restored against what the manifest recorded: the list of tables, and exact row counts when recorded. */
export function compareRestored(manifest: Manifest, archiveToc: TocSummary | null, restored: TableCounts): CompareResult {
  const mismatches: string[] = [];
  const notes: string[] = [];
  const expected = manifest.toc?.tables ?? archiveToc?.tables ?? null;
  const present = new Set(restored.tables);
  if (expected) {
    const want = new Set(expected);
    const missing = expected.filter((t) => !present.has(t));
    const extra = restored.tables.filter((t) => !want.has(t));
    if (missing.length > 0) mismatches.push(`missing after restore: ${listSome(missing)}`);
    if (extra.length > 0) mismatches.push(`restored but not in the backup's TOC: ${listSome(extra)}`);
  } else notes.push('no table list to compare with (neither the manifest nor the archive TOC could be read)');
  let rowCountsChecked: boolean | null = null;
  let rows = 0;
  if (manifest.rowCounts) {
    rowCountsChecked = true;
    const counted = manifest.rowCounts.tables;
    for (const [table, n] of Object.entries(counted).sort(([a], [b]) => a.localeCompare(b))) {
      const got = restored.rowCounts[table];
      if (got === undefined) mismatches.push(`${table}: ${n} rows at backup time, table missing after restore`);
      else if (got !== n) mismatches.push(`${table}: ${n} rows at backup time, ${got} after restore`);
      else rows += n;
    }
    const uncounted = Object.keys(restored.rowCounts).filter((t) => !(t in counted));
    if (uncounted.length > 0) mismatches.push(`restored tables without a row count in the manifest: ${listSome(uncounted)}`);
  } else {
    notes.push('the backup has no row counts (taken without --row-counts): verified the restore and the list of tables, not row counts');
  }
  return { mismatches, notes, tables: restored.tables.length, rowCountsChecked, rows };
}

/** Failures that are a verdict about the backup (recorded), as opposed to trouble with the environment (not recorded). */
