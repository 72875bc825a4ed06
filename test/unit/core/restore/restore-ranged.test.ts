// The download before pg_restore -j through a store that offers ranged reads: the copy pg_restore gets is the
// object (the positional writes put every range at its place), a damaged range is caught by the same SHA-256
// check, a store that cannot range or an object under two parts keeps the single read.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { IntegrityError } from '../../../../src/core/errors.ts';
import type { RestoreTarget, ToolReport } from '../../../../src/core/ports/database-target.ts';
import type { BackupStore, RangeRead } from '../../../../src/core/ports/store.ts';
import { runRestore } from '../../../../src/core/restore/restore.ts';
import type { FileStore } from '../../../../src/storage/file.ts';
import { emptyLister, FIXTURE_DUMP, fixtureRestorePlan, fixtureStore, storeWith } from '../../../support/fixture-store.ts';

const FIXTURE = FIXTURE_DUMP;
const SHA = createHash('sha256').update(FIXTURE).digest('hex');
const _ID = '20261124T031500Z-0a0b0c0d';
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(name: string): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), name));
  dirs.push(d);
  return d;
}

async function fileStore(): Promise<FileStore> {
  return fixtureStore(await tempDir('rsb-ranged-store-'));
}

type Seen = { ranges: number[]; reads: number };

/** The file store with ranged reads of `partSize` (ranges answering in reverse order), and `damage` applied to them. */
function ranging(store: FileStore, partSize: number, damage?: (start: number, b: Buffer) => Buffer): { store: BackupStore; seen: Seen } {
  const seen: Seen = { ranges: [], reads: 0 };
  const ranged = storeWith(store, {
    read: (key) => {
      if (key.endsWith('.dump')) seen.reads++;
      return store.read(key);
    },
    rangedReads: {
      partSize,
      concurrency: 4,
      async readRange(key, start, end): Promise<RangeRead> {
        seen.ranges.push(start);
        const whole = readFileSync(path.join(store.root, key));
        await new Promise((r) => setTimeout(r, (whole.length - start) / 100));
        const bytes = Buffer.from(whole.subarray(start, end + 1));
        return { body: Readable.from([damage ? damage(start, bytes) : bytes]), etag: '"e"', objectBytes: whole.length };
      },
    },
  });
  return { store: ranged, seen };
}

function target(): { target: RestoreTarget; restored: string[] } {
  const restored: string[] = [];
  const report: ToolReport = { toleratedErrors: 0, filtered: [], notes: [] };
  const unused = async (): Promise<never> => {
    throw new Error('not used by a --jobs restore');
  };
  return {
    restored,
    target: {
      description: 'fake@target:5432/postgres',
      database: 'postgres',
      serverInfo: async () => ({ version: '18.4', versionNum: 180004, host: null }),
      databaseExists: async () => false,
      createEmptyDatabase: unused,
      createDatabaseFromArchive: unused,
      dropDatabase: unused,
      startGatedRestore: unused,
      restoreFile: async (_db, file) => {
        restored.push(createHash('sha256').update(readFileSync(file)).digest('hex'));
        return report;
      },
      applyGlobals: unused,
      tableCounts: unused,
      close: async () => undefined,
    },
  };
}

// --jobs 2 downloads to tempDir before pg_restore -j: the path the ranged reads serve.
const plan = (tempDir: string) => fixtureRestorePlan({ singleTransaction: false, jobs: 2, tempDir });
const lister = emptyLister;

test('--jobs with ranged reads: pg_restore gets exactly the object, assembled from ranges that arrived out of order', async () => {
  const { store, seen } = ranging(await fileStore(), 256);
  const t = target();
  const tmp = await tempDir('rsb-ranged-tmp-');
  const r = await runRestore(plan(tmp), { store, target: t.target, lister });
  assert.equal(r.database?.mode, 'parallel');
  assert.deepEqual(t.restored, [SHA]);
  assert.equal(seen.reads, 0, 'no single read of the object');
  assert.equal(seen.ranges.length, Math.ceil(FIXTURE.length / 256));
  assert.deepEqual(await readdir(tmp), [], 'temporary copy removed');
});

test('one flipped byte in one range ⇒ IntegrityError (SHA-256), pg_restore never runs, the copy is removed', async () => {
  const { store } = ranging(await fileStore(), 256, (start, b) => {
    if (start === 1024) b[100]! ^= 0xff;
    return b;
  });
  const t = target();
  const tmp = await tempDir('rsb-ranged-tmp-');
  await assert.rejects(
    runRestore(plan(tmp), { store, target: t.target, lister }),
    (e: Error) => e instanceof IntegrityError && /SHA-256/.test(e.message),
  );
  assert.deepEqual(t.restored, []);
  assert.deepEqual(await readdir(tmp), []);
});

test('an object under two parts keeps the single read', async () => {
  const { store, seen } = ranging(await fileStore(), FIXTURE.length);
  const t = target();
  await runRestore(plan(await tempDir('rsb-ranged-tmp-')), { store, target: t.target, lister });
  assert.deepEqual(t.restored, [SHA]);
  assert.equal(seen.reads, 1);
  assert.deepEqual(seen.ranges, []);
});
