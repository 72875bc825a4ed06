// S3 misbehaving under a real backup: the real CLI, real PostgreSQL and pg_dump, moto behind a fault-injecting
// proxy (test/support/fault-proxy.ts). After every fault the bucket must hold nothing that looks like a backup
// but is not one (test/support/invariants.ts) and the error must say what failed and what to do.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { startCli, runCli } from '../../support/cli.ts';
import { startMoto, type MotoServer } from '../../support/moto.ts';
import { startPostgres, type PgServer } from '../../support/postgres.ts';
import { faults, startFaultProxy, type FaultProxy, type FaultRule } from '../../support/fault-proxy.ts';
import { assertActionableFailure, assertBucketInvariants, assertNothingStored } from '../../support/invariants.ts';
import { S3Store, createS3Client } from '../../../src/storage/s3.ts';
import { streamToStore } from '../../../src/core/backup/stream-to-store.ts';
import { readStreamInto } from '../../../src/postgres/output-socket.ts';
import { StorageError } from '../../../src/core/errors.ts';
import type { ExitStatus, RunningTool } from '../../../src/core/ports/database-source.ts';

let moto: MotoServer;
let pg: PgServer;
const proxies: FaultProxy[] = [];

// --compress none and 5 MiB parts: the ~50 MB dump of `big` is ten parts, so faults can hit a middle part.
const ARGS = ['--databases', 'big', '--compress', 'none', '--part-size-mb', '5', '--queue-size', '2'];
const PARTS = 10;

before(async () => {
  [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18 })]);
  await pg.query('create database big');
  // Random bytes (incompressible, hex-encoded by COPY): about 50 MB of dump.
  await pg.query(
    "create table blob as select i, decode(md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex') as b from generate_series(1, 390000) i",
    'big',
  );
});
after(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all([moto?.stop(), pg?.stop()]);
});

async function proxy(rule?: FaultRule): Promise<FaultProxy> {
  const p = await startFaultProxy(moto.endpoint, rule);
  proxies.push(p);
  return p;
}

function envVia(p: FaultProxy): Record<string, string> {
  return { ...pg.env('postgres'), ...moto.env(), AWS_ENDPOINT_URL: p.endpoint };
}

function partsSeen(p: FaultProxy): number[] {
  return [...new Set(p.log.filter((e) => e.op === 'UploadPart').map((e) => e.partNumber!))].sort((a, b) => a - b);
}

test('transient faults on part uploads (500, 503 SlowDown, connection reset mid-body) are retried: one complete backup', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy(
    faults.all(
      faults.onPart(2, { kind: 'status', status: 500, code: 'InternalError' }),
      faults.onPart(3, { kind: 'status', status: 503, code: 'SlowDown' }),
      faults.onPart(4, { kind: 'reset', afterBodyBytes: 1024 * 1024 }),
      faults.onOp('CreateMultipartUpload', { kind: 'status', status: 503, code: 'ServiceUnavailable' }, [1]),
    ),
  );
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, ...ARGS, '--json'], envVia(p));
  assert.equal(res.code, 0, res.stderr);
  for (const part of [2, 3, 4]) {
    const tries = p.log.filter((e) => e.op === 'UploadPart' && e.partNumber === part);
    assert.ok(tries.length >= 2, `part ${part} was retried`);
    assert.equal(tries.at(-1)!.status, 200);
  }
  const state = await assertBucketInvariants(moto, bucket);
  assert.equal(state.complete.length, 1);
  assert.ok(state.complete[0]!.bytes! > (PARTS - 1) * 5 * 1024 * 1024, 'the dump spans several parts');
});

test('slow S3 (every request answered 400 ms late) ⇒ a complete backup, just slower', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy(() => ({ kind: 'delay', ms: 400 }));
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, ...ARGS], envVia(p));
  assert.equal(res.code, 0, res.stderr);
  const state = await assertBucketInvariants(moto, bucket);
  assert.equal(state.complete.length, 1);
});

test('a part keeps failing with 503 ⇒ upload aborted, the dump stopped early, error names S3 and what to do', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy(faults.onPart(2, { kind: 'status', status: 503, code: 'ServiceUnavailable' }, 'all'));
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, ...ARGS], envVia(p));
  assertActionableFailure(
    res,
    /S3 upload of s3:\/\/.*big\/.*\.dump failed: .*(ServiceUnavailable|503|reduce your request rate)/,
    /S3|retry/i,
  );
  assert.ok(p.log.filter((e) => e.op === 'UploadPart' && e.partNumber === 2).length >= 3, 'the SDK retried before giving up');
  // A broken upload must stop the dump instead of streaming the rest of the database into a doomed upload.
  const parts = partsSeen(p);
  assert.ok(Math.max(...parts) < PARTS, `parts uploaded after the failure: ${parts.join(',')}`);
  await assertNothingStored(moto, bucket);
});

test('connection reset on every attempt of a part ⇒ upload aborted, error says S3 is unreachable', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy(faults.onPart(3, { kind: 'reset', afterBodyBytes: 64 * 1024 }, 'all'));
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, ...ARGS], envVia(p));
  assertActionableFailure(res, /S3 upload of .* failed: .*(ECONNRESET|socket hang up|EPIPE)/, /S3 is unreachable/);
  await assertNothingStored(moto, bucket);
});

test('AccessDenied on CompleteMultipartUpload ⇒ parts aborted, no object, error points at the IAM policy', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy(faults.onOp('CompleteMultipartUpload', { kind: 'status', status: 403, code: 'AccessDenied' }));
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, ...ARGS], envVia(p));
  assertActionableFailure(res, /S3 upload of .* failed: .*Access ?Denied/i, /IAM policy/);
  assert.ok(
    p.log.some((e) => e.op === 'AbortMultipartUpload' && e.status === 204),
    'the multipart upload was aborted',
  );
  await assertNothingStored(moto, bucket);
});

test('the key exists already (CompleteMultipartUpload answers 412) ⇒ ObjectExistsError, not retried, upload aborted, no manifest', async () => {
  // Before, the engine tagged the finished object (PutObjectTagging with its VersionId); it no longer makes any
  // request after the upload. What can go wrong at the end now is the conditional completion: another writer
  // created the key first. Nothing is replaced, nothing retried.
  const bucket = await moto.createBucket();
  const p = await proxy(faults.onOp('CompleteMultipartUpload', { kind: 'status', status: 412, code: 'PreconditionFailed' }));
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, ...ARGS], envVia(p));
  assertActionableFailure(res, /already exists, and backups are never overwritten/, /another writer created this key first/);
  assert.equal(p.log.filter((e) => e.op === 'CompleteMultipartUpload').length, 1, '412 is not retried');
  assert.ok(
    p.log.some((e) => e.op === 'AbortMultipartUpload' && e.status === 204),
    'the multipart upload was aborted',
  );
  assert.ok(!p.log.some((e) => e.op === 'PutObjectTagging'), 'no tagging after the upload');
  await assertNothingStored(moto, bucket);
});

test('writing the manifest fails (500 on every attempt) ⇒ the data object lists as incomplete, exit 1', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy((r) =>
    r.op === 'PutObject' && r.key.endsWith('.manifest.json') ? { kind: 'status', status: 500, code: 'InternalError' } : undefined,
  );
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, ...ARGS], envVia(p));
  assertActionableFailure(res, /S3 PutObject .*manifest\.json failed/, /S3|retry/i);
  const state = await assertBucketInvariants(moto, bucket);
  assert.equal(state.complete.length, 0);
  assert.equal(state.incomplete.length, 1);
});

test('S3 gone for good mid-upload ⇒ exit 1 naming S3; no object, no manifest; the open upload is reported, not hidden', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy();
  const cli = startCli(['backup', '--to', `s3://${bucket}/p`, ...ARGS], envVia(p));
  await p.waitFor((e) => e.op === 'UploadPart' && e.partNumber === 2 && e.status === 200);
  await p.disappear();
  const res = await cli.result;
  assertActionableFailure(res, /S3 upload of .* failed: .*(ECONNREFUSED|ECONNRESET|socket hang up)/, /S3 is unreachable/);
  assert.match(res.stderr, /incomplete multipart upload/i, 'says that an incomplete upload may remain and what removes it');
  // The abort cannot reach a vanished S3: the multipart upload stays open (it is not an object and never lists as
  // a backup); the bucket's abort-incomplete-multipart-upload lifecycle rule removes it.
  const state = await assertBucketInvariants(moto, bucket, 'p', { allowOpenUploads: 1 });
  assert.deepEqual(state.keys, []);
  assert.equal(state.openUploads.length, 1);
});

test('bucket missing ⇒ exit 1 before pg_dump starts, error names the bucket and says what to check', async () => {
  const p = await proxy();
  const res = await runCli(['backup', '--to', 's3://no-such-bucket-rsb-rel/p', ...ARGS], envVia(p));
  assertActionableFailure(res, /no-such-bucket-rsb-rel.*(NoSuchBucket|does not exist)/, /bucket does not exist/);
  assert.ok(!p.log.some((e) => e.op === 'CreateMultipartUpload'), 'no upload was started');
});

/** A pg_dump stand-in that streams `bytes` of archive-looking data and then waits for kill(). */
function endlessTool(): RunningTool {
  const stdout = new PassThrough();
  let resolveExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((r) => (resolveExit = r));
  let stopped = false;
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const pump = (): void => {
    while (!stopped && stdout.write(chunk));
    if (!stopped) stdout.once('drain', pump);
  };
  setImmediate(pump);
  return {
    tool: 'pg_dump',
    pid: undefined,
    readOutput: (consume) => readStreamInto(stdout, consume),
    exited,
    kill(signal = 'SIGTERM') {
      if (stopped) return;
      stopped = true;
      stdout.end();
      resolveExit({ code: null, signal, stderrTail: '' });
    },
  };
}

test('S3 stalls (a part upload is accepted and never answered) ⇒ the request times out, upload aborted, no hang', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy(faults.onPart(2, { kind: 'hang' }, 'all'));
  // The production idle timeout is minutes; the same client factory with a short one keeps this test quick.
  // (In-process: the SDK takes the endpoint and credentials from process.env.)
  Object.assign(process.env, { ...moto.env(), AWS_ENDPOINT_URL: p.endpoint });
  const client = createS3Client({ ...moto.env(), AWS_ENDPOINT_URL: p.endpoint }, { socketTimeoutMs: 1500 });
  const store = new S3Store({ bucket, prefix: 'p', kmsKeyId: null, client });
  const t0 = Date.now();
  const err = await streamToStore(endlessTool(), store, 'p/big/20260101T000000Z-0000abcd.dump', {
    contentType: 'application/octet-stream',
    metadata: {},
    tags: {},
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
    expectArchive: false,
    signal: undefined,
  }).then(
    () => assert.fail('a stalled S3 must not produce a backup'),
    (e: unknown) => e,
  );
  client.destroy();
  assert.ok(err instanceof StorageError, String(err));
  assert.match(err.message, /timed out|TimeoutError/i);
  assert.match(err.hint ?? '', /S3 stopped answering|unreachable/);
  assert.ok(Date.now() - t0 < 60_000, `took ${Date.now() - t0} ms`);
  await assertNothingStored(moto, bucket);
});
