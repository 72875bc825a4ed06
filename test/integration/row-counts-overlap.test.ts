// --row-counts counts every table in the dump's own snapshot. The count runs beside pg_dump, not before it (a scan
// of every table in front of the dump would add its whole duration to the backup), and a failed count still fails
// the backup, stops the dump and leaves nothing behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { runBackup, type BackupPlan } from '../../src/core/backup/run-backup.ts';
import { parseBackupConfig } from '../../src/core/config/backup-config.ts';
import { collectRaw } from '../../src/core/config/raw.ts';
import { ConnectionError } from '../../src/core/errors.ts';
import type { DatabaseSource, ExitStatus, RunningTool, Snapshot } from '../../src/core/ports/database-source.ts';
import { resolveConnection } from '../../src/postgres/credentials.ts';
import { PgSource } from '../../src/postgres/source.ts';
import { locatePgTools } from '../../src/postgres/tools.ts';
import { S3Store, createS3Client } from '../../src/storage/s3.ts';
import { assertBucketInvariants, assertNothingStored } from '../support/invariants.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

let pg: PgServer;
let moto: MotoServer;

before(async () => {
  [pg, moto] = await Promise.all([startPostgres({ major: 18 }), startMoto()]);
  // The SDK's default credential chain reads them from the process environment, as the CLI's does.
  Object.assign(process.env, moto.env());
  await pg.query('create database counted');
  await pg.query('create table a as select g from generate_series(1, 1234) g', 'counted');
  await pg.query('create table b as select g, repeat(md5(g::text), 8) as t from generate_series(1, 50000) g', 'counted');
});

after(async () => {
  await Promise.all([pg?.stop(), moto?.stop()]);
});

const plan: BackupPlan = {
  databases: ['counted'],
  globals: false,
  compression: 'zstd:1',
  rowCounts: true,
  lockWaitTimeout: '10s',
  partSizeMinBytes: 5 * 1024 * 1024,
  queueSize: 2,
  kmsKeyId: null,
};

/** The real source, with the snapshot's count replaced by `count` (given the real one and the running dump). */
async function sourceWith(
  count: (real: Snapshot, dump: Promise<RunningTool>) => Promise<Readonly<Record<string, number>>>,
): Promise<{ source: DatabaseSource; real: PgSource }> {
  const config = parseBackupConfig(collectRaw('backup', { to: 'file:///unused', databases: 'counted' }, pg.env('counted')));
  const conn = await resolveConnection(config.connection, config.auth, { env: {} });
  const real = new PgSource(conn, await locatePgTools(null, process.env));
  let dumped: (d: Promise<RunningTool>) => void = () => undefined;
  const dump = new Promise<RunningTool>((resolve) => (dumped = (d) => void d.then(resolve)));
  const source: DatabaseSource = {
    listDatabases: () => real.listDatabases(),
    serverInfo: () => real.serverInfo(),
    dumpToolVersion: () => real.dumpToolVersion(),
    databaseSize: (d) => real.databaseSize(d),
    exportSnapshot: async (d, l) => {
      const snap = await real.exportSnapshot(d, l);
      return { id: snap.id, release: () => snap.release(), countRows: () => count(snap, dump) };
    },
    startDump: (r) => {
      const started = real.startDump(r);
      dumped(started);
      return started;
    },
    startGlobalsDump: () => real.startGlobalsDump(),
    close: () => real.close(),
  };
  return { source, real };
}

test('the count runs while pg_dump dumps: a count that waits for the dump to finish still completes the backup', async () => {
  // Counting first, as before, would wait here for a dump that never starts.
  const { source } = await sourceWith(async (real, dump) => {
    const status = await (await dump).exited;
    assert.equal(status.code, 0, 'pg_dump finished before the count began');
    return real.countRows();
  });
  const bucket = await moto.createBucket('counted-overlap', { versioned: true });
  const client = createS3Client(moto.env());
  try {
    const report = await runBackup(plan, { source, store: new S3Store({ bucket, prefix: 'p', kmsKeyId: null, client }) });
    assert.equal(report.ok, true, JSON.stringify(report.results[0]?.error));
  } finally {
    await source.close();
    client.destroy();
  }
  const state = await assertBucketInvariants(moto, bucket);
  assert.equal(state.complete.length, 1);
  const obj = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: state.complete[0]!.manifestKey! }));
  const manifest = JSON.parse(await obj.Body!.transformToString()) as {
    rowCounts: { snapshot: string; tables: Record<string, number> };
  };
  assert.deepEqual(manifest.rowCounts.tables, { 'public.a': 1234, 'public.b': 50000 });
});

test('a count that fails while pg_dump runs fails the backup with its own error, stops the dump, stores nothing', async () => {
  let dumpExit: Promise<ExitStatus> | undefined;
  const { source } = await sourceWith(async (_real, dump) => {
    const proc = await dump;
    dumpExit = proc.exited;
    throw new ConnectionError('counting the rows of counted failed: injected');
  });
  const bucket = await moto.createBucket('counted-fail', { versioned: true });
  const client = createS3Client(moto.env());
  try {
    const report = await runBackup(plan, { source, store: new S3Store({ bucket, prefix: 'p', kmsKeyId: null, client }) });
    assert.equal(report.ok, false);
    assert.match(report.results[0]?.error?.message ?? '', /counting the rows of counted failed: injected/);
    assert.ok(dumpExit, 'the dump had started');
    const exit = await dumpExit;
    assert.ok(exit.code !== 0 || exit.signal !== null, `pg_dump was not stopped: ${JSON.stringify(exit)}`);
  } finally {
    await source.close();
    client.destroy();
  }
  await assertNothingStored(moto, bucket);
});
