// A file:// store holding one backup of the checked-in fixture archive (test/fixtures/pg18-small.dump): the
// manifest always describes the real fixture (size, SHA-256, TOC), while the stored object may be other bytes,
// which is what the tampering and integrity tests need.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readToc, summarizeToc } from '../../src/core/archive/toc.ts';
import { backupKeys } from '../../src/core/catalog/keys.ts';
import { type Manifest, serializeManifest } from '../../src/core/catalog/manifest.ts';
import type { BackupStore } from '../../src/core/ports/store.ts';
import type { RestorePlan } from '../../src/core/restore/restore.ts';
import { FileStore } from '../../src/storage/file.ts';

export const FIXTURE_DUMP = readFileSync(new URL('../fixtures/pg18-small.dump', import.meta.url));
export const FIXTURE_ID = '20261124T031500Z-0a0b0c0d';

export const TEST_ID = '20261124T030000Z-0000000a';
export const ARCHIVE_CONTENT_TYPE = 'application/vnd.postgresql.custom-archive';

export type TestManifestOptions = Partial<Omit<Manifest, 'object'>> & {
  /** The stored object's key. */
  readonly key: string;
  /** The object the manifest describes: its length and SHA-256 go into the manifest (or give them below). */
  readonly body?: Buffer;
  readonly bytes?: number;
  readonly sha256?: string;
  readonly contentType?: string;
};

/** A manifest as the engine writes one (database `app`, one backup of 2026-11-24), with the test's own fields. */
export function testManifest(o: TestManifestOptions): Manifest {
  const { key, body, bytes, sha256, contentType, ...rest } = o;
  return {
    schema: 'rds-s3-backup/manifest@1',
    kind: 'database',
    id: TEST_ID,
    database: 'app',
    tool: { name: 'rds-s3-backup', version: '0.1.0' },
    pgDump: { version: '18.6' },
    server: { version: '18.4', versionNum: 180004, host: null },
    startedAt: '2026-11-24T03:00:00.000Z',
    finishedAt: '2026-11-24T03:00:01.000Z',
    durationMs: 1000,
    object: {
      key,
      bytes: bytes ?? body?.length ?? 0,
      sha256:
        sha256 ??
        createHash('sha256')
          .update(body ?? Buffer.alloc(0))
          .digest('hex'),
      versionId: null,
      contentType: contentType ?? ARCHIVE_CONTENT_TYPE,
    },
    format: 'custom',
    compression: 'none',
    tier: 'daily',
    encryption: { kmsKeyId: null },
    toc: null,
    rowCounts: null,
    ...rest,
  };
}

/** A FileStore rooted at `dir` with the fixture's manifest and `data` (default: the fixture itself) as its object. */
export async function fixtureStore(dir: string, data: Buffer = FIXTURE_DUMP): Promise<FileStore> {
  const store = new FileStore(dir);
  const keys = backupKeys('', 'database', 'fixture', FIXTURE_ID);
  const manifest = testManifest({
    key: keys.data,
    body: FIXTURE_DUMP,
    id: FIXTURE_ID,
    database: 'fixture',
    startedAt: '2026-11-24T03:15:00.000Z',
    finishedAt: '2026-11-24T03:15:01.000Z',
    tier: 'yearly',
    toc: summarizeToc(readToc(FIXTURE_DUMP)!),
  });
  await store.putSmall(keys.data, '', { contentType: 'x', metadata: {}, tags: {} }); // creates the directories
  await writeFile(path.join(dir, keys.data), data);
  await store.putSmall(keys.manifest, serializeManifest(manifest), { contentType: 'application/json', metadata: {}, tags: {} });
  return store;
}

/** `store` with some of its methods replaced (a test's view of the same bucket: slower, chunked, damaged, ranged). */
export function storeWith(store: BackupStore, over: Partial<Pick<BackupStore, 'read' | 'rangedReads'>>): BackupStore {
  return {
    url: store.url,
    prefix: store.prefix,
    openUpload: (k, o) => store.openUpload(k, o),
    putSmall: (k, b, o) => store.putSmall(k, b, o),
    list: (p) => store.list(p),
    listIncomplete: (p) => store.listIncomplete(p),
    read: (key) => store.read(key),
    ...over,
  };
}

/** A restore plan for the fixture's backup: the latest one, into `scratch`, one transaction; a test's own fields win. */
export function fixtureRestorePlan(over: Partial<RestorePlan> = {}): RestorePlan {
  return {
    selector: { by: 'latest' },
    database: 'fixture',
    globals: false,
    targetDatabase: 'scratch',
    create: false,
    singleTransaction: true,
    jobs: 1,
    selection: { schemas: [], tables: [], noOwner: false, noAcl: false, clean: false },
    tempDir: os.tmpdir(),
    listOnly: false,
    ...over,
  };
}

/** The schema lister of a restore with no existing objects in the target. */
export const emptyLister = async (): Promise<string[]> => [];
