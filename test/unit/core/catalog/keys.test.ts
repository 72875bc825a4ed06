import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backupKeys,
  decodeDatabaseName,
  encodeDatabaseName,
  formatStamp,
  newBackupId,
  parseKey,
  parseStamp,
} from '../../../../src/core/catalog/keys.ts';

test('stamps are UTC ISO-8601 basic format and sort by time', () => {
  assert.equal(formatStamp(new Date('2026-01-02T03:04:05.678Z')), '20260102T030405Z');
  assert.deepEqual(parseStamp('20260102T030405Z'), new Date('2026-01-02T03:04:05Z'));
  assert.equal(parseStamp('2026-01-02'), undefined);
  const a = newBackupId(new Date('2026-01-02T03:04:05Z'));
  const b = newBackupId(new Date('2026-01-02T03:04:06Z'));
  assert.ok(a < b);
});

test('ids of the same second differ', () => {
  const d = new Date();
  const ids = new Set(Array.from({ length: 50 }, () => newBackupId(d)));
  assert.equal(ids.size, 50);
});

test('hostile database names become one safe path segment and round-trip', () => {
  for (const name of [
    'app',
    '../etc',
    'a/b',
    '..',
    '.',
    'x\ny',
    'Ünïcødé',
    '; drop database x; --',
    '$(rm -rf /)',
    '@globals',
    'host=evil dbname=x',
    '%41',
  ]) {
    const enc = encodeDatabaseName(name);
    assert.match(enc, /^[A-Za-z0-9_%-]+$/, name);
    assert.notEqual(enc, '..');
    assert.equal(decodeDatabaseName(enc), name);
  }
  assert.throws(() => encodeDatabaseName(''));
  assert.throws(() => encodeDatabaseName('x'.repeat(64)));
});

test('keys group by database and parse back', () => {
  const k = backupKeys('prod/pg', 'database', 'my db', '20260102T030405Z-0011aabb');
  assert.equal(k.data, 'prod/pg/my%20db/20260102T030405Z-0011aabb.dump');
  assert.equal(k.manifest, 'prod/pg/my%20db/20260102T030405Z-0011aabb.manifest.json');
  const p = parseKey('prod/pg', k.manifest);
  assert.equal(p?.database, 'my db');
  assert.equal(p?.role, 'manifest');
  assert.equal(p?.kind, 'database');
  const g = backupKeys('', 'globals', null, '20260102T030405Z-0011aabb');
  assert.equal(g.data, '@globals/20260102T030405Z-0011aabb.sql');
  assert.equal(parseKey('', g.data)?.kind, 'globals');
});

test('foreign keys are ignored', () => {
  assert.equal(parseKey('p', 'other/app/20260102T030405Z-0011aabb.dump'), undefined);
  assert.equal(parseKey('p', 'p/app/notes.txt'), undefined);
  assert.equal(parseKey('p', 'p/app/sub/20260102T030405Z-0011aabb.dump'), undefined);
  assert.equal(parseKey('p', 'p/app/20260102T030405Z-0011aabb.dump.partial-1234'), undefined);
  assert.equal(parseKey('p', 'p/@globals/20260102T030405Z-0011aabb.dump'), undefined);
});
