import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readToc, summarizeToc } from '../../../../src/core/archive/toc.ts';
import { backupKeys } from '../../../../src/core/catalog/keys.ts';
import { MANIFEST_SCHEMA, type Manifest, serializeManifest } from '../../../../src/core/catalog/manifest.ts';
import type { RestoreTarget } from '../../../../src/core/ports/database-target.ts';
import type { BackupStore } from '../../../../src/core/ports/store.ts';
import { RestoreError } from '../../../../src/core/restore/common.ts';
import { GLOBALS_MAX_BYTES } from '../../../../src/core/restore/restore-globals.ts';
import { runVerify, type ScratchProvider } from '../../../../src/core/restore/verify.ts';
import { compareRestored, compareToc } from '../../../../src/core/restore/verify-compare.ts';
import { FileStore } from '../../../../src/storage/file.ts';

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

test("verify reads the globals object with restore's size cap: an oversized one is refused before a byte is read", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-verify-unit-'));
  try {
    const fixture = readFileSync(new URL('../../../fixtures/pg18-small.dump', import.meta.url));
    const files: BackupStore = new FileStore(dir);
    const put = async (kind: 'database' | 'globals', id: string, data: Buffer, bytes: number): Promise<void> => {
      const keys = backupKeys('', kind, kind === 'database' ? 'fixture' : null, id);
      await mkdir(path.dirname(path.join(dir, keys.data)), { recursive: true });
      await writeFile(path.join(dir, keys.data), data);
      const at = `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}.000Z`;
      const m: Manifest = {
        schema: MANIFEST_SCHEMA,
        kind,
        id,
        database: kind === 'database' ? 'fixture' : null,
        tool: { name: 'rds-s3-backup', version: 'test' },
        pgDump: { version: '18.6' },
        server: { version: '18.4', versionNum: 180004, host: null },
        startedAt: at,
        finishedAt: at,
        durationMs: 1,
        object: { key: keys.data, bytes, sha256: createHash('sha256').update(data).digest('hex'), versionId: null, contentType: 'x' },
        format: kind === 'database' ? 'custom' : 'sql',
        compression: 'none',
        tier: 'yearly',
        encryption: { kmsKeyId: null },
        toc: kind === 'database' ? summarizeToc(readToc(data)!) : null,
        rowCounts: null,
      };
      await files.putSmall(keys.manifest, serializeManifest(m), { contentType: 'application/json', metadata: {}, tags: {} });
    };
    await put('database', '20261124T031500Z-0a0b0c0d', fixture, fixture.length);
    // The manifest claims more than restore would ever load into memory.
    await put('globals', '20261124T031400Z-0a0b0c0e', Buffer.from('-- roles\n'), GLOBALS_MAX_BYTES + 1);
    const reads: string[] = [];
    const store: BackupStore = {
      url: files.url,
      prefix: files.prefix,
      openUpload: (k, o) => files.openUpload(k, o),
      putSmall: (k, b, o) => files.putSmall(k, b, o),
      // The listing agrees with the manifest (as a bucket holding such an object would), so the catalog calls it complete.
      list: async function* (p) {
        for await (const o of files.list(p)) yield o.key.endsWith('.sql') ? { ...o, size: GLOBALS_MAX_BYTES + 1 } : o;
      },
      listIncomplete: (p) => files.listIncomplete(p),
      read: async (k) => {
        reads.push(k);
        return files.read(k);
      },
    };
    let applied = 0;
    const target = {
      applyGlobals: async () => {
        applied++;
        return { expectedErrors: [], errors: [] };
      },
    } as unknown as RestoreTarget;
    const scratch: ScratchProvider = async () => ({ target, kind: 'embedded', version: '18.4', note: '', stop: async () => undefined });
    await assert.rejects(
      runVerify({ selector: { by: 'latest' }, database: 'fixture', integrityOnly: false, record: false, tempDir: dir }, { store, scratch }),
      (err: unknown) => err instanceof RestoreError && /refusing to load more than/.test(err.message),
    );
    assert.deepEqual(
      reads.filter((k) => k.endsWith('.sql')),
      [],
      'the globals object was not read',
    );
    assert.equal(applied, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
