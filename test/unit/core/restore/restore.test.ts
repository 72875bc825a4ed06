// The restore pipeline's integrity gate with a fake target: nothing may commit unless every byte arrived and
// the SHA-256 matches; on any failure the gate is aborted (and a database created by this run is dropped).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { IntegrityError } from '../../../../src/core/errors.ts';
import { RestoreError } from '../../../../src/core/restore/common.ts';
import { runRestore } from '../../../../src/core/restore/restore.ts';
import { SelectionMismatchError } from '../../../../src/core/restore/filters.ts';
import type { ArchiveFilters, GatedRestore, RestoreTarget, ToolReport } from '../../../../src/core/ports/database-target.ts';
import type { BackupStore } from '../../../../src/core/ports/store.ts';
import type { FileStore } from '../../../../src/storage/file.ts';
import { emptyLister, FIXTURE_DUMP, fixtureRestorePlan, fixtureStore, storeWith as withMethods } from '../../../support/fixture-store.ts';

const FIXTURE = FIXTURE_DUMP;
const _ID = '20261124T031500Z-0a0b0c0d';

const dirs: string[] = [];
after(async () => {
  // Also when a test failed half-way.
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function storeWith(data: Buffer): Promise<{ store: BackupStore; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-restore-unit-'));
  dirs.push(dir);
  // The stored object may differ from what the manifest describes (that is the point of these tests).
  return { store: await fixtureStore(dir, data), dir };
}

/** Serves `data` in small chunks (many writes through the gate) while listing the manifest's size. */
function chunked(store: BackupStore, mutate?: (b: Buffer) => Buffer): BackupStore {
  return withMethods(store, {
    read: async (key: string): Promise<Readable> => {
      let buf: Buffer = readFileSync(path.join((store as FileStore).root, key));
      if (mutate && key.endsWith('.dump')) buf = mutate(buf);
      const parts: Buffer[] = [];
      for (let i = 0; i < buf.length; i += 97) parts.push(buf.subarray(i, i + 97));
      return Readable.from(parts);
    },
  });
}

type Calls = {
  written: Buffer[];
  commits: number;
  aborts: number;
  dropped: string[];
  created: string[];
  fileRestores: { file: string; sha: string }[];
};

function fakeTarget(opts: { failAfterBytes?: number; exists?: boolean } = {}): { target: RestoreTarget; calls: Calls } {
  const calls: Calls = { written: [], commits: 0, aborts: 0, dropped: [], created: [], fileRestores: [] };
  const report: ToolReport = { toleratedErrors: 0, filtered: [], notes: [] };
  const target: RestoreTarget = {
    description: 'fake@target:5432/postgres',
    database: 'postgres',
    serverInfo: async () => ({ version: '16.4', versionNum: 160004, host: null }),
    databaseExists: async () => opts.exists ?? false,
    createEmptyDatabase: async (n) => void calls.created.push(n),
    createDatabaseFromArchive: async (_h, _ids, _f: ArchiveFilters) => {
      calls.created.push('fixture');
      return report;
    },
    dropDatabase: async (n) => void calls.dropped.push(n),
    startGatedRestore: async (): Promise<GatedRestore> => {
      let fail: (e: Error) => void = () => undefined;
      const failure = new Promise<Error>((r) => (fail = r));
      let bytes = 0;
      return {
        failure,
        write: async (c) => {
          calls.written.push(c);
          bytes += c.length;
          if (opts.failAfterBytes !== undefined && bytes >= opts.failAfterBytes) fail(new Error('pg_restore: simulated failure'));
        },
        endInput: async () => undefined,
        commit: async () => {
          calls.commits++;
          return report;
        },
        abort: async () => void calls.aborts++,
      };
    },
    restoreFile: async (_db, file) => {
      calls.fileRestores.push({ file, sha: createHash('sha256').update(readFileSync(file)).digest('hex') });
      return report;
    },
    applyGlobals: async () => ({ expectedErrors: [], errors: [] }),
    tableCounts: async () => ({ tables: [], rowCounts: {} }),
    close: async () => undefined,
  };
  return { target, calls };
}

const plan = fixtureRestorePlan;
const lister = emptyLister;

test('an intact object streams through and commits once, after the last byte', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const { target, calls } = fakeTarget();
  const r = await runRestore(plan(), { store: chunked(store), target, lister });
  assert.equal(calls.commits, 1);
  assert.equal(calls.aborts, 0);
  assert.ok(Buffer.concat(calls.written).equals(FIXTURE));
  assert.equal(r.database?.database, 'scratch');
  assert.equal(r.database?.sha256Verified, true);
  await rm(dir, { recursive: true });
});

test('one flipped byte ⇒ IntegrityError, the gate is aborted, never committed', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const { target, calls } = fakeTarget();
  const flip = (b: Buffer): Buffer => {
    const c = Buffer.from(b);
    c[c.length - 30]! ^= 0x01; // in the table data, after the TOC
    return c;
  };
  await assert.rejects(
    runRestore(plan(), { store: chunked(store, flip), target, lister }),
    (e: Error) => e instanceof IntegrityError && /SHA-256/.test(e.message),
  );
  assert.equal(calls.commits, 0);
  assert.equal(calls.aborts, 1);
  await rm(dir, { recursive: true });
});

test('a truncated stream ⇒ IntegrityError (truncated), never committed', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const { target, calls } = fakeTarget();
  const cut = (b: Buffer): Buffer => b.subarray(0, b.length - 30); // inside the table data
  await assert.rejects(runRestore(plan(), { store: chunked(store, cut), target, lister }), /truncated: 2398 of 2428 bytes/);
  assert.equal(calls.commits, 0);
  assert.equal(calls.aborts, 1);
  await rm(dir, { recursive: true });
});

// Before: --create ran the archive's DATABASE entry from the first bytes, then found the object truncated.
test('--create and --no-single-transaction run nothing from an object that fails its check: verified before the first statement', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const cut = (b: Buffer): Buffer => b.subarray(0, b.length - 30);
  for (const p of [plan({ create: true, targetDatabase: null }), plan({ singleTransaction: false })]) {
    const { target, calls } = fakeTarget();
    await assert.rejects(runRestore(p, { store: chunked(store, cut), target, lister }), /truncated: 2398 of 2428 bytes/);
    assert.deepEqual(calls.created, []);
    assert.equal(calls.written.length, 0);
    assert.equal(calls.commits, 0);
  }
  await rm(dir, { recursive: true });
});

test('an object cut inside its TOC is refused as truncated before anything runs', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const { target, calls } = fakeTarget();
  await assert.rejects(
    runRestore(plan(), { store: chunked(store, (b) => b.subarray(0, 1000)), target, lister }),
    /truncated: 1000 of 2428/,
  );
  assert.equal(calls.written.length, 0);
  await rm(dir, { recursive: true });
});

test('a longer object than the manifest says is refused as soon as it is longer', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const { target, calls } = fakeTarget();
  await assert.rejects(
    runRestore(plan(), { store: chunked(store, (b) => Buffer.concat([b, Buffer.alloc(10)])), target, lister }),
    /longer than its manifest/,
  );
  assert.equal(calls.commits, 0);
  await rm(dir, { recursive: true });
});

test('a tool failure mid-stream stops the download and aborts', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const { target, calls } = fakeTarget({ failAfterBytes: 500 });
  await assert.rejects(runRestore(plan(), { store: chunked(store), target, lister }), /simulated failure/);
  assert.equal(calls.commits, 0);
  assert.equal(calls.aborts, 1);
  assert.ok(Buffer.concat(calls.written).length < FIXTURE.length, 'stopped before the end');
  await rm(dir, { recursive: true });
});

test('a --table the backup does not have fails before the target is touched', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const { target, calls } = fakeTarget();
  await assert.rejects(
    runRestore(plan({ selection: { schemas: [], tables: ['orders'], noOwner: false, noAcl: false, clean: false } }), {
      store,
      target,
      lister,
    }),
    (e: Error) => e instanceof SelectionMismatchError && /it exists as sales.Orders/.test((e as SelectionMismatchError).hint ?? ''),
  );
  assert.equal(calls.written.length, 0);
  await rm(dir, { recursive: true });
});

test('--create refuses an existing database before creating anything', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const { target, calls } = fakeTarget({ exists: true });
  await assert.rejects(runRestore(plan({ create: true }), { store, target, lister }), /already exists/);
  assert.deepEqual(calls.created, []);
  assert.deepEqual(calls.dropped, []);
  await rm(dir, { recursive: true });
});

test('--jobs: free space is checked first; the local copy is verified before pg_restore -j and removed after', async () => {
  const { store, dir } = await storeWith(FIXTURE);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rsb-jobs-'));
  dirs.push(tmp);
  const small = fakeTarget();
  await assert.rejects(
    runRestore(plan({ jobs: 4, singleTransaction: false, tempDir: tmp }), {
      store,
      target: small.target,
      lister,
      freeBytes: async () => 1000,
    }),
    (e: Error) => e instanceof RestoreError && /not enough free space/.test(e.message),
  );
  assert.deepEqual(await readdir(tmp), [], 'nothing downloaded');

  const bad = fakeTarget();
  const flip = (b: Buffer): Buffer => {
    const c = Buffer.from(b);
    c[2400]! ^= 0xff;
    return c;
  };
  await assert.rejects(
    runRestore(plan({ jobs: 4, singleTransaction: false, tempDir: tmp }), { store: chunked(store, flip), target: bad.target, lister }),
    IntegrityError,
  );
  assert.equal(bad.calls.fileRestores.length, 0, 'pg_restore never ran on a bad copy');
  assert.deepEqual(await readdir(tmp), [], 'temporary copy removed');

  const good = fakeTarget();
  const r = await runRestore(plan({ jobs: 4, singleTransaction: false, tempDir: tmp }), {
    store: chunked(store),
    target: good.target,
    lister,
  });
  assert.equal(r.database?.mode, 'parallel');
  assert.equal(good.calls.fileRestores.length, 1);
  assert.equal(good.calls.fileRestores[0]!.sha, createHash('sha256').update(FIXTURE).digest('hex'));
  assert.ok(!existsSync(good.calls.fileRestores[0]!.file), 'temporary copy removed');
  await rm(tmp, { recursive: true });
  await rm(dir, { recursive: true });
});
