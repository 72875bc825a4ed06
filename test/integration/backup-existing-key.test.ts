// A backup never replaces an existing object. When its key is already taken (a racing writer, someone writing into
// the backup prefix), S3 answers the conditional write with 412 and the engine refuses loudly: a typed error that
// says so, the request not retried, the first object untouched, no manifest, no multipart upload left open. The
// file:// store keeps the same rule.
//
// The clash is made real: a store wrapper creates the key through another client just before the engine's upload
// starts (the engine's keys carry a random id, so no test can predict one in advance).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { executeBackup } from '../../src/app/backup.ts';
import { parseBackupConfig } from '../../src/core/config/backup-config.ts';
import { collectRaw } from '../../src/core/config/raw.ts';
import type { BackupStore, UploadSink } from '../../src/core/ports/store.ts';
import { FileStore } from '../../src/storage/file.ts';
import { S3Store } from '../../src/storage/s3.ts';
import { startAwsRecorder, type AwsRecorder } from '../support/aws-recorder.ts';
import { toApiCall } from '../support/authz/operations.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

const PASSWORD = 'existing-key-test-pw-9c2e';
const FIRST = 'the object that was there first';

let moto: MotoServer;
let recorder: AwsRecorder;
let pg: PgServer;
let work: string;

before(async () => {
  [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18, password: PASSWORD })]);
  recorder = await startAwsRecorder(moto.endpoint);
  work = await mkdtemp(path.join(os.tmpdir(), 'rsb-existing-key-'));
  await pg.query('create database app');
  await pg.query('create table t as select i from generate_series(1, 100) i', 'app');
  await pg.query('create database big');
  await pg.query(
    "create table blob as select i, decode(md5(random()::text) || md5(random()::text), 'hex') as b from generate_series(1, 250000) i",
    'big',
  );
});
after(async () => {
  await recorder?.stop();
  await Promise.all([moto?.stop(), pg?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** Delegates to `inner`, but the first data object's key is created by `claim` just before its upload starts. */
function racing(inner: BackupStore, claim: (key: string) => Promise<void>): BackupStore & { claimed: () => string | undefined } {
  let claimed: string | undefined;
  return {
    url: inner.url,
    prefix: inner.prefix,
    claimed: () => claimed,
    openUpload(key, options): UploadSink {
      if (claimed || key.endsWith('.json')) return inner.openUpload(key, options);
      claimed = key;
      // The sink is opened once the claim landed; until then every call waits for it.
      const ready = claim(key).then(() => inner.openUpload(key, options));
      let sink: UploadSink | undefined;
      void ready.then((s) => {
        sink = s;
      });
      return {
        write: (chunk) => (sink ? sink.write(chunk) : ready.then((s) => s.write(chunk))),
        end: () => void ready.then((s) => s.end()),
        abort: (reason) => void ready.then((s) => s.abort(reason)),
        done: ready.then((s) => s.done),
        uploadedBytes: () => sink?.uploadedBytes() ?? 0,
      };
    },
    putSmall: (k, b, o) => inner.putSmall(k, b, o),
    list: (p) => inner.list(p),
    read: (k) => inner.read(k),
    listIncomplete: (p) => inner.listIncomplete(p),
  };
}

async function backup(database: string, store: BackupStore) {
  const config = parseBackupConfig(
    collectRaw('backup', { to: store.url, databases: database, compress: 'none', partSizeMb: '5' }, pg.env('postgres')),
  );
  return executeBackup(config, { store, env: pg.env('postgres') });
}

for (const { database, how } of [
  { database: 'app', how: 'PutObject' },
  { database: 'big', how: 'CompleteMultipartUpload' },
] as const) {
  test(`S3, ${how}: the key exists ⇒ ObjectExistsError, not retried, first object untouched, no manifest, no upload left`, async () => {
    const bucket = await moto.createBucket();
    const client = new S3Client({ endpoint: recorder.endpoint, region: moto.region, forcePathStyle: true, credentials: moto.credentials });
    const store = racing(new S3Store({ bucket, prefix: 'prod', kmsKeyId: null, client }), async (key) => {
      await moto.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: FIRST }));
    });
    recorder.clear();
    const report = await backup(database, store);
    client.destroy();

    assert.equal(report.ok, false);
    const r = report.results[0]!;
    assert.equal(r.error?.name, 'ObjectExistsError', JSON.stringify(r.error));
    assert.match(r.error?.message ?? '', /already exists, and backups are never overwritten/);
    assert.equal(r.manifestKey, null);
    const key = store.claimed()!;
    const first = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(await first.Body!.transformToString(), FIRST, 'the first object is untouched');
    assert.deepEqual(
      (await moto.listKeys(bucket)).filter((k) => k.endsWith('.manifest.json')),
      [],
      'no manifest',
    );
    assert.deepEqual(await moto.listMultipartUploads(bucket), [], 'no multipart upload left open');
    const creating = recorder
      .requests()
      .map(toApiCall)
      .filter((c) => c.service === 's3' && c.operation === how && c.key === key);
    assert.equal(creating.length, 1, `${how} was sent once: 412 is not retried`);
    assert.equal(creating[0]!.status, 412);
  });
}

test('file://: the file exists ⇒ ObjectExistsError, the file untouched, no manifest', async () => {
  const root = path.join(work, 'files');
  const store = racing(new FileStore(root), async (key) => {
    await mkdir(path.dirname(path.join(root, key)), { recursive: true });
    await writeFile(path.join(root, key), FIRST);
  });
  const report = await backup('app', store);
  const r = report.results[0]!;
  assert.equal(r.error?.name, 'ObjectExistsError', JSON.stringify(r.error));
  assert.equal(await readFile(path.join(root, store.claimed()!), 'utf8'), FIRST);
  assert.equal(r.manifestKey, null);
});
