// Immutability mechanisms where moto enforces them (the IAM side is proven by the evaluator in
// test/terraform/authorization.test.ts): conditional writes (If-None-Match: * on PutObject and on
// CompleteMultipartUpload — the second write of a key fails with 412), versioning (an overwrite keeps the old
// version), Object Lock (a version under retention cannot be deleted, not even by the bucket's admin without
// s3:BypassGovernanceRetention's header; a delete without a version only adds a delete marker).
//
// Each test first shows the write/delete succeeding without the mechanism, then failing with it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startMoto, type MotoServer } from '../support/moto.ts';

let moto: MotoServer;
let s3: S3Client;

before(async () => {
  moto = await startMoto();
  s3 = moto.s3();
});
after(async () => {
  await moto?.stop();
});

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

async function rejectsWith(status: number, what: Promise<unknown>): Promise<string> {
  try {
    await what;
  } catch (err) {
    assert.equal(statusOf(err), status, `expected HTTP ${status}, got ${String(err)}`);
    return (err as { name?: string }).name ?? '';
  }
  assert.fail(`expected HTTP ${status}, but the request succeeded`);
}

async function body(bucket: string, key: string): Promise<string> {
  return await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
}

async function multipart(bucket: string, key: string, text: string, ifNoneMatch: boolean): Promise<unknown> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: text }));
  return s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
      ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
    }),
  );
}

test('PutObject: without If-None-Match a second write replaces the backup; with it, 412 and the first stays', async () => {
  const bucket = await moto.createBucket();
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'old', Body: 'backup' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'old', Body: 'overwritten' }));
  assert.equal(await body(bucket, 'old'), 'overwritten', 'the attack without the mechanism');

  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'new', Body: 'backup', IfNoneMatch: '*' }));
  assert.equal(
    await rejectsWith(412, s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'new', Body: 'overwritten', IfNoneMatch: '*' }))),
    'PreconditionFailed',
  );
  assert.equal(await body(bucket, 'new'), 'backup');
});

test('CompleteMultipartUpload: with If-None-Match: * a second upload of the same key fails with 412', async () => {
  const bucket = await moto.createBucket();
  await multipart(bucket, 'old.dump', 'backup', false);
  await multipart(bucket, 'old.dump', 'overwritten', false);
  assert.equal(await body(bucket, 'old.dump'), 'overwritten', 'the attack without the mechanism');

  // moto 5.1.1 refuses only when the existing object was not itself completed by a multipart upload (AWS refuses
  // whenever the key exists), so the first object here is a single PutObject.
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'new.dump', Body: 'backup', IfNoneMatch: '*' }));
  assert.equal(await rejectsWith(412, multipart(bucket, 'new.dump', 'overwritten', true)), 'PreconditionFailed');
  assert.equal(await body(bucket, 'new.dump'), 'backup');
});

test('versioning: an overwrite keeps the previous version; a delete without a version only adds a delete marker', async () => {
  const bucket = await moto.createBucket(); // versioned, as the module's bucket
  const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b.dump', Body: 'backup' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b.dump', Body: 'overwritten' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'b.dump' }));
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'b.dump' }));
  assert.equal(versions.Versions?.length, 2);
  assert.equal(versions.DeleteMarkers?.length, 1);
  const old = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'b.dump', VersionId: first.VersionId }));
  assert.equal(await old.Body!.transformToString(), 'backup');

  const unversioned = await moto.createBucket(undefined, { versioned: false });
  await s3.send(new PutObjectCommand({ Bucket: unversioned, Key: 'b.dump', Body: 'backup' }));
  await s3.send(new PutObjectCommand({ Bucket: unversioned, Key: 'b.dump', Body: 'overwritten' }));
  const none = await s3.send(new ListObjectVersionsCommand({ Bucket: unversioned, Prefix: 'b.dump' }));
  assert.equal(none.Versions?.length, 1, 'without versioning the backup is gone');
});

test('Object Lock: a version under GOVERNANCE retention cannot be deleted; without a lock it can', async () => {
  const md5 = (text: string): string => createHash('md5').update(text).digest('base64');
  const plain = await moto.createBucket();
  const p = await s3.send(new PutObjectCommand({ Bucket: plain, Key: 'b.dump', Body: 'backup' }));
  await s3.send(new DeleteObjectCommand({ Bucket: plain, Key: 'b.dump', VersionId: p.VersionId }));
  const gone = await s3.send(new ListObjectVersionsCommand({ Bucket: plain, Prefix: 'b.dump' }));
  assert.equal(gone.Versions?.length ?? 0, 0, 'the attack without the mechanism: the version is gone for good');

  const locked = await moto.createLockedBucket({ mode: 'GOVERNANCE', days: 1 });
  // moto 5.1 wants Content-MD5 on puts to an Object Lock bucket (AWS also accepts the SDK's default checksum).
  const put = await s3.send(new PutObjectCommand({ Bucket: locked, Key: 'b.dump', Body: 'backup', ContentMD5: md5('backup') }));
  assert.ok(put.VersionId);
  // AWS answers 403 AccessDenied; moto 5.1.1 the same code with HTTP 400.
  const refused = await s3.send(new DeleteObjectCommand({ Bucket: locked, Key: 'b.dump', VersionId: put.VersionId })).then(
    () => 'deleted',
    (err: unknown) => (err as { name?: string }).name,
  );
  assert.equal(refused, 'AccessDenied');
  // Deleting without a version is allowed but only hides it: the locked version is still there.
  await s3.send(new DeleteObjectCommand({ Bucket: locked, Key: 'b.dump' }));
  const kept = await s3.send(new ListObjectVersionsCommand({ Bucket: locked, Prefix: 'b.dump' }));
  assert.deepEqual(
    kept.Versions?.map((v) => v.VersionId),
    [put.VersionId],
  );
  const back = await s3.send(new GetObjectCommand({ Bucket: locked, Key: 'b.dump', VersionId: put.VersionId }));
  assert.equal(await back.Body!.transformToString(), 'backup');
});
