import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listCatalog } from '../../../../src/core/catalog/listing.ts';
import { FileStore } from '../../../../src/storage/file.ts';

test('catalog: manifest-less objects are incomplete, orphaned verification records are not backups', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-cat-'));
  try {
    const store = new FileStore(dir);
    await store.putSmall('app/20261101T030000Z-00000001.dump', 'PGDMP');
    await store.putSmall('app/20261001T030000Z-00000002.verify.json', JSON.stringify({ ok: true, verifiedAt: '2026-10-02T00:00:00Z' }));
    await store.putSmall('app/notes.txt', 'ignored');
    const entries = await listCatalog(store);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.status, 'incomplete');
    assert.match(entries[0]!.problem ?? '', /no manifest/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
