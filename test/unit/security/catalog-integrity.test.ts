// Catalog integrity against whoever can write the bucket: "verified" belongs to one exact object, a manifest
// cannot speak for another key, oversize JSON is not read, and the file:// store stays inside its root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { JSON_MAX_BYTES, listCatalog } from '../../../src/core/catalog/listing.ts';
import { backupKeys } from '../../../src/core/catalog/keys.ts';
import { serializeManifest, type Manifest } from '../../../src/core/catalog/manifest.ts';
import type { BackupStore } from '../../../src/core/ports/store.ts';
import { writeVerifyRecord } from '../../../src/core/catalog/verify-record.ts';
import { FileStore } from '../../../src/storage/file.ts';
import { TEST_ID, testManifest } from '../../support/fixture-store.ts';
import { uploadAll } from '../../support/upload.ts';

/** A verify record as `verify` writes it (verify-record.ts keeps its serializer private). */
function serializeVerifyRecord(r: object): string {
  return `${JSON.stringify({ schema: 'rds-s3-backup/verify@1', ...r, tool: { name: 'rds-s3-backup', version: '0.1.0' } }, null, 2)}\n`;
}

const archive = readFileSync(new URL('../../fixtures/pg18-small.dump', import.meta.url));
const ID = TEST_ID;
const manifest = testManifest;

function record(m: Manifest): string {
  return serializeVerifyRecord({
    ok: true,
    verifiedAt: '2026-11-24T04:00:00.000Z',
    mode: 'restore',
    summary: 'restored',
    backup: { id: m.id, database: m.database, key: m.object.key, sha256: m.object.sha256, bytes: m.object.bytes },
    server: null,
    checks: { sha256: true, toc: true, restore: true, tables: 1, rowCounts: null },
    mismatches: [],
    durationMs: 1,
  });
}

async function withRoot(fn: (root: string, put: (key: string, body: Buffer | string) => Promise<void>) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'rsb-sec-'));
  const put = async (key: string, body: Buffer | string): Promise<void> => {
    await mkdir(path.dirname(path.join(root, key)), { recursive: true });
    await writeFile(path.join(root, key), body);
  };
  try {
    await fn(root, put);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

// Before: list compared nothing and showed the overwritten object as "complete … verified ✓".
test('a verified backup overwritten with another object and a matching manifest no longer lists as verified', async () => {
  await withRoot(async (root, put) => {
    const k = backupKeys('', 'database', 'app', ID);
    const m = manifest({ body: archive, key: k.data });
    await put(k.data, archive);
    await put(k.manifest, serializeManifest(m));
    await put(k.verify, record(m));
    const store = new FileStore(root);
    assert.equal((await listCatalog(store))[0]!.verification?.ok, true, 'the genuine record counts');

    const forged = Buffer.from('42 bytes of anything, not even an archive.');
    await put(k.data, forged);
    await put(k.manifest, serializeManifest(manifest({ body: forged, key: k.data })));
    const [e] = await listCatalog(store);
    assert.equal(e!.status, 'complete');
    assert.equal(e!.verification, null, 'the old record is for another object');
  });
});

test('a manifest whose kind, database or id disagree with its key is invalid, and verify writes only under the listed key', async () => {
  await withRoot(async (root, put) => {
    const k = backupKeys('', 'database', 'app', ID);
    const other = backupKeys('', 'database', 'victim', '20261124T030000Z-000000ff');
    await put(k.data, archive);
    await put(k.manifest, serializeManifest(manifest({ body: archive, key: k.data, database: 'victim', id: '20261124T030000Z-000000ff' })));
    const store = new FileStore(root);
    const [e] = await listCatalog(store);
    assert.equal(e!.status, 'invalid');
    assert.match(e!.problem!, /manifest describes database of "victim" 20261124T030000Z-000000ff, not the backup its key names/);

    // Even handed a manifest that names elsewhere, the record goes beside the entry the catalog found.
    const m = manifest({ body: archive, key: other.data, database: 'victim', id: '20261124T030000Z-000000ff' });
    const key = await writeVerifyRecord(store, { ...e!, manifest: m }, JSON.parse(record(m)) as Parameters<typeof writeVerifyRecord>[2]);
    assert.equal(key, k.verify);
    assert.equal(existsSync(path.join(root, other.verify)), false);
  });
});

// A store whose reads are counted: "refused without reading it whole" is about bytes, not just the verdict.
function counting(inner: BackupStore, lie: number | null): { store: BackupStore; read: () => number } {
  let n = 0;
  const store: BackupStore = {
    url: inner.url,
    prefix: inner.prefix,
    openUpload: (...a) => inner.openUpload(...a),
    putSmall: (...a) => inner.putSmall(...a),
    listIncomplete: (...a) => inner.listIncomplete(...a),
    async *list(prefix) {
      for await (const o of inner.list(prefix)) yield lie !== null && o.key.endsWith('.json') ? { ...o, size: lie } : o;
    },
    async read(key) {
      const r = await inner.read(key);
      return Readable.from(
        (async function* () {
          for await (const c of r) {
            n += (c as Buffer).length;
            yield c as Buffer;
          }
        })(),
      );
    },
  };
  return { store, read: () => n };
}

test('oversize manifests and records are refused by their listed size without being read, and cut off when the listing lies', async () => {
  await withRoot(async (root, put) => {
    const k = backupKeys('', 'database', 'app', ID);
    const m = manifest({ body: archive, key: k.data });
    await put(k.data, archive);
    // Valid JSON, 8 MiB of it: the whitespace is legal.
    await put(k.manifest, serializeManifest(m).replace('{', `{${' '.repeat(8 * 1024 * 1024)}`));
    await put(k.verify, record(m).replace('{', `{${' '.repeat(8 * 1024 * 1024)}`));
    const honest = counting(new FileStore(root), null);
    const [e] = await listCatalog(honest.store);
    assert.equal(e!.status, 'invalid');
    assert.match(e!.problem!, /over the 1048576-byte limit/);
    assert.equal(honest.read(), 0, 'nothing read');

    // The listing claims small objects: reading stops just past the cap.
    const lying = counting(new FileStore(root), 100);
    const [e2] = await listCatalog(lying.store);
    assert.equal(e2!.status, 'invalid');
    assert.match(e2!.problem!, /reading stopped/);
    assert.ok(lying.read() <= JSON_MAX_BYTES + 128 * 1024, `read ${lying.read()} bytes`);
  });
});

// Before: mkdir -p and writeFile followed the link and wrote outside the root.
test('file:// store: a symlinked folder is never followed, for writes or reads', async () => {
  await withRoot(async (root) => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'rsb-outside-'));
    try {
      await writeFile(path.join(outside, 'secret.dump'), 'operator secret');
      await mkdir(path.join(root, 'store'));
      await symlink(outside, path.join(root, 'store', 'app'));
      const store: BackupStore = new FileStore(path.join(root, 'store'));
      const k = backupKeys('', 'database', 'app', ID);
      await assert.rejects(store.putSmall(k.verify, '{}', { contentType: 'application/json', metadata: {}, tags: {} }), /symbolic link/);
      const up = store.openUpload(k.data, { contentType: 'x', metadata: {}, tags: {}, partSize: 1, queueSize: 1 });
      await assert.rejects(uploadAll(up, [Buffer.from('x')]), /symbolic link/);
      await assert.rejects(store.read('app/secret.dump'), /symbolic link/);
      assert.equal(await readFile(path.join(outside, 'secret.dump'), 'utf8'), 'operator secret');
      assert.deepEqual(await readdir(outside), ['secret.dump'], 'nothing written outside the root');
      assert.deepEqual(await listCatalog(store), []);

      // A link at an object's own name is refused too.
      await mkdir(path.join(root, 'store', 'db2'));
      await symlink(path.join(outside, 'secret.dump'), path.join(root, 'store', 'db2', `${ID}.dump`));
      await assert.rejects(store.read(`db2/${ID}.dump`), /symbolic link/);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});
