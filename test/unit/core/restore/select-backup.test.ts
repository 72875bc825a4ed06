import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEntry } from '../../../../src/core/catalog/listing.ts';
import type { Manifest } from '../../../../src/core/catalog/manifest.ts';
import { idFromKey, selectBackup, SelectionError } from '../../../../src/core/restore/select-backup.ts';

function entry(id: string, status: CatalogEntry['status'], db: string | null = 'app', prefix = 'p'): CatalogEntry {
  const stamp = id.slice(0, 16);
  const startedAt = new Date(
    `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`,
  );
  const folder = db === null ? '@globals' : db;
  const key = `${prefix}/${folder}/${id}${db === null ? '.sql' : '.dump'}`;
  return {
    id,
    kind: db === null ? 'globals' : 'database',
    database: db,
    startedAt,
    status,
    problem: status === 'complete' ? null : 'no manifest: the backup did not finish',
    dataKey: key,
    dataBytes: 10,
    manifestKey: status === 'incomplete' ? null : `${prefix}/${folder}/${id}.manifest.json`,
    verifyKey: null,
    manifest: status === 'complete' ? ({ object: { key } } as unknown as Manifest) : null,
    verification: null,
  };
}

// Newest first, as listCatalog returns them.
const entries = [
  entry('20261124T030000Z-0000000d', 'incomplete'), // newest: a dump without manifest (failed run)
  entry('20261123T030000Z-0000000c', 'complete'),
  entry('20261122T030000Z-0000000b', 'invalid'),
  entry('20261121T030000Z-0000000a', 'complete'),
  entry('20261123T040000Z-000000ff', 'complete', 'other'),
  entry('20261123T050000Z-000000ee', 'complete', null),
];
const want = { kind: 'database', database: 'app' } as const;

test('--latest never picks an object without a manifest, and says what it passed over', () => {
  const s = selectBackup(entries, { by: 'latest' }, want, 'p');
  assert.equal(s.entry.id, '20261123T030000Z-0000000c');
  assert.equal(s.skipped.length, 1);
  assert.equal(s.skipped[0]!.status, 'incomplete');
});

test('--at picks the newest complete backup started at or before the time', () => {
  assert.equal(selectBackup(entries, { by: 'at', at: new Date('2026-11-23T03:00:00Z') }, want, 'p').entry.id, '20261123T030000Z-0000000c');
  assert.equal(
    selectBackup(entries, { by: 'at', at: new Date('2026-11-23T02:59:59Z') }, want, 'p').entry.id,
    '20261121T030000Z-0000000a',
    'skips the invalid one',
  );
  assert.throws(() => selectBackup(entries, { by: 'at', at: new Date('2026-11-20T00:00:00Z') }, want, 'p'), SelectionError);
});

test('--key accepts the data key, the manifest key, a key without the prefix, or the id', () => {
  for (const key of [
    'p/app/20261121T030000Z-0000000a.dump',
    'p/app/20261121T030000Z-0000000a.manifest.json',
    'app/20261121T030000Z-0000000a.dump',
    '20261121T030000Z-0000000a',
  ]) {
    assert.equal(selectBackup(entries, { by: 'key', key }, want, 'p').entry.id, '20261121T030000Z-0000000a', key);
  }
});

test('--key of an incomplete or invalid backup is refused with the reason', () => {
  assert.throws(
    () => selectBackup(entries, { by: 'key', key: '20261124T030000Z-0000000d' }, want, 'p'),
    /cannot be restored: incomplete: no manifest/,
  );
  assert.throws(
    () => selectBackup(entries, { by: 'key', key: 'p/app/20261122T030000Z-0000000b.dump' }, want, 'p'),
    /cannot be restored: invalid/,
  );
  assert.throws(() => selectBackup(entries, { by: 'key', key: 'not-a-key' }, want, 'p'), /not a backup key or id/);
  assert.throws(
    () => selectBackup(entries, { by: 'key', key: 'p/other/20261123T040000Z-000000ff.dump' }, want, 'p'),
    (e: SelectionError) => /database "other"/.test(e.hint ?? ''),
  );
});

test('globals are selected from their own folder only', () => {
  assert.equal(selectBackup(entries, { by: 'latest' }, { kind: 'globals', database: null }, 'p').entry.id, '20261123T050000Z-000000ee');
  assert.throws(() => selectBackup([], { by: 'latest' }, want, 'p'), /no backups of database "app"/);
});

test('idFromKey names the database or the globals folder', () => {
  assert.deepEqual(idFromKey('p', 'p/my%20db/20261121T030000Z-0000000a.dump'), {
    id: '20261121T030000Z-0000000a',
    database: 'my db',
    kind: 'database',
  });
  assert.deepEqual(idFromKey('', '@globals/20261121T030000Z-0000000a.sql'), {
    id: '20261121T030000Z-0000000a',
    database: null,
    kind: 'globals',
  });
  assert.equal(idFromKey('p', 'q/app/x.dump'), undefined);
});
