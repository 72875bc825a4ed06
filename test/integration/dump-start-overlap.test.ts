// pg_dump starts before the bucket listing (for the tier) and the size query (for the part size) have answered: its
// own start-up overlaps their round trips. A listing that fails then stops the dump it started and stores nothing.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type BackupPlan, runBackup } from '../../src/core/backup/run-backup.ts';
import { parseBackupConfig } from '../../src/core/config/backup-config.ts';
import { collectRaw } from '../../src/core/config/raw.ts';
import { StorageError } from '../../src/core/errors.ts';
import type { DatabaseSource, ExitStatus, RunningTool } from '../../src/core/ports/database-source.ts';
import type { BackupStore, ObjectInfo } from '../../src/core/ports/store.ts';
import { resolveConnection } from '../../src/postgres/credentials.ts';
import { PgSource } from '../../src/postgres/source.ts';
import { locatePgTools } from '../../src/postgres/tools.ts';
import { FileStore } from '../../src/storage/file.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

let pg: PgServer;
let root: string;

before(async () => {
  [pg, root] = await Promise.all([startPostgres({ major: 18 }), mkdtemp(path.join(os.tmpdir(), 'rsb-overlap-'))]);
  await pg.query('create database overlap');
  await pg.query('create table t as select g, md5(g::text) as m from generate_series(1, 20000) g', 'overlap');
});

after(async () => {
  await pg?.stop();
  await rm(root, { recursive: true, force: true });
});

const plan: BackupPlan = {
  databases: ['overlap'],
  globals: false,
  compression: 'zstd:1',
  rowCounts: false,
  lockWaitTimeout: null,
  partSizeMinBytes: 5 * 1024 * 1024,
  queueSize: 2,
  kmsKeyId: null,
};

/** The real source; `onDump` sees every pg_dump it starts. */
async function source(onDump: (proc: RunningTool) => void): Promise<DatabaseSource> {
  const config = parseBackupConfig(collectRaw('backup', { to: 'file:///unused', databases: 'overlap' }, pg.env('overlap')));
  const conn = await resolveConnection(config.connection, config.auth, { env: {} });
  const real = new PgSource(conn, await locatePgTools(null, process.env));
  return {
    listDatabases: () => real.listDatabases(),
    serverInfo: () => real.serverInfo(),
    dumpToolVersion: () => real.dumpToolVersion(),
    databaseSize: (d) => real.databaseSize(d),
    exportSnapshot: (d, l) => real.exportSnapshot(d, l),
    startDump: async (r) => {
      const proc = await real.startDump(r);
      onDump(proc);
      return proc;
    },
    startGlobalsDump: () => real.startGlobalsDump(),
    close: () => real.close(),
  };
}

/** A file store whose listing answers only when `listing` settles. */
function gatedStore(dir: string, listing: Promise<void>): BackupStore {
  const inner = new FileStore(dir);
  return {
    url: inner.url,
    prefix: inner.prefix,
    openUpload: (k, o) => inner.openUpload(k, o),
    putSmall: (k, b, o) => inner.putSmall(k, b, o),
    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      await listing;
      yield* inner.list(prefix);
    },
    read: (k) => inner.read(k),
    listIncomplete: (p) => inner.listIncomplete(p),
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('pg_dump is started while the bucket listing is still waiting for its answer', async () => {
  const dir = await mkdtemp(path.join(root, 'ok-'));
  const listing = deferred();
  const started = deferred();
  const src = await source(() => started.resolve());
  try {
    const run = runBackup(plan, { source: src, store: gatedStore(dir, listing.promise) });
    const before = await Promise.race([started.promise.then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))]);
    listing.resolve();
    const report = await run;
    assert.equal(before, true, 'pg_dump only started after the listing answered');
    assert.equal(report.ok, true, JSON.stringify(report.results[0]?.error));
    assert.ok((report.results[0]?.bytes ?? 0) > 0);
  } finally {
    await src.close();
  }
});

test('a listing that fails after pg_dump started stops that pg_dump and stores nothing', async () => {
  const dir = await mkdtemp(path.join(root, 'fail-'));
  const listing = deferred();
  const denied = (): void => listing.reject(new StorageError('ListObjectsV2 of s3://b/overlap/ failed: AccessDenied'));
  // Had pg_dump waited for the listing, it would never start: fail the listing anyway after a while.
  const fallback = setTimeout(denied, 10_000);
  let exit: Promise<ExitStatus> | undefined;
  const src = await source((proc) => {
    exit = proc.exited;
    clearTimeout(fallback);
    // The listing fails only once pg_dump runs, so that the failure lands after the start.
    setTimeout(denied, 50);
  });
  try {
    const report = await runBackup(plan, { source: src, store: gatedStore(dir, listing.promise) });
    assert.equal(report.ok, false);
    assert.match(report.results[0]?.error?.message ?? '', /AccessDenied/);
    assert.ok(exit, 'pg_dump had started');
    const status = await exit;
    assert.ok(status.code !== 0 || status.signal !== null, `pg_dump was not stopped: ${JSON.stringify(status)}`);
  } finally {
    await src.close();
  }
  assert.deepEqual(await readdir(dir), [], 'nothing written');
});
