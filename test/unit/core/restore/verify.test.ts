import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Manifest } from '../../../../src/core/catalog/manifest.ts';
import { compareRestored, compareToc } from '../../../../src/core/restore/verify.ts';

const toc = {
  archiveVersion: '1.16.0',
  entries: 12,
  byType: { TABLE: 3, 'TABLE DATA': 2 },
  tables: ['public.a', 'public.b', 'public.parent'],
  schemas: ['public'],
};
const manifest = (rowCounts: Manifest['rowCounts']): Manifest => ({ toc, rowCounts }) as unknown as Manifest;

test('exact row counts match ⇒ no mismatch; partitioned parents need no count', () => {
  const r = compareRestored(manifest({ snapshot: 's', tables: { 'public.a': 10, 'public.b': 0 } }), toc, {
    tables: ['public.a', 'public.b', 'public.parent'],
    rowCounts: { 'public.a': 10, 'public.b': 0 },
  });
  assert.deepEqual(r.mismatches, []);
  assert.equal(r.rowCountsChecked, true);
  assert.equal(r.rows, 10);
});

test('an altered count, a missing table and an unexpected table are each reported', () => {
  const r = compareRestored(manifest({ snapshot: 's', tables: { 'public.a': 11, 'public.b': 0 } }), toc, {
    tables: ['public.a', 'public.parent', 'public.extra'],
    rowCounts: { 'public.a': 10, 'public.extra': 1 },
  });
  assert.deepEqual(r.mismatches, [
    'missing after restore: public.b',
    "restored but not in the backup's TOC: public.extra",
    'public.a: 11 rows at backup time, 10 after restore',
    'public.b: 0 rows at backup time, table missing after restore',
    'restored tables without a row count in the manifest: public.extra',
  ]);
});

test('without row counts the table list is still compared, and the report says counts were not checked', () => {
  const r = compareRestored(manifest(null), toc, {
    tables: ['public.a', 'public.b', 'public.parent'],
    rowCounts: { 'public.a': 1, 'public.b': 2 },
  });
  assert.deepEqual(r.mismatches, []);
  assert.equal(r.rowCountsChecked, null);
  assert.match(r.notes.join(), /no row counts/);
});

test('the archive TOC must equal the manifest summary', () => {
  assert.deepEqual(compareToc(toc, toc).mismatches, []);
  const changed = { ...toc, entries: 13, tables: ['public.a', 'public.c', 'public.parent'], byType: { TABLE: 3, 'TABLE DATA': 3 } };
  assert.deepEqual(compareToc(toc, changed).mismatches, [
    'TOC has 13 entries, manifest says 12',
    'tables in the archive but not in the manifest: public.c',
    'tables in the manifest but not in the archive: public.b',
    'TOC has 3 TABLE DATA entries, manifest says 2',
  ]);
  assert.match(compareToc(null, toc).notes.join(), /no TOC summary/);
});
