// The request → authorization table (test/support/authz/actions.ts) states the Service Authorization Reference's
// rules; these checks pin each rule, so a change to the table that would make the proofs weaker fails here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorizationsFor, type Deployment } from '../support/authz/actions.ts';
import { toApiCall, type ApiCall } from '../support/authz/operations.ts';

const D: Deployment = {
  partition: 'aws',
  account: '111122223333',
  region: 'eu-west-1',
  bucket: 'b',
  prefix: 'p',
  kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/k',
  bucketKeyEnabled: true,
  secretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:s-AbCdEf',
  dbUserArn: 'arn:aws:rds-db:eu-west-1:111122223333:dbuser:db-X/u',
};

function s3(
  method: string,
  path: string,
  query: Record<string, string> = {},
  headers: Record<string, string> = {},
  body: string | null = null,
): ApiCall {
  return toApiCall({ seq: 1, service: 's3', region: 'eu-west-1', method, path, query, headers, body, status: 200 });
}

function actions(call: ApiCall): string[] {
  return authorizationsFor(call, { deployment: D }).map((r) => `${r.action} ${r.resource}`);
}

function context(call: ApiCall, action: string): Readonly<Record<string, string | string[]>> {
  const r = authorizationsFor(call, { deployment: D }).find((x) => x.action === action);
  assert.ok(r, `${action} is required`);
  return r.context;
}

const SSE = { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': D.kmsKeyArn };

test('PutObject with x-amz-tagging also needs s3:PutObjectTagging with the request tags; SSE-KMS needs kms:GenerateDataKey via S3', () => {
  const call = s3('PUT', '/b/p/db/x.dump', { 'x-id': 'PutObject' }, { ...SSE, 'if-none-match': '*', 'x-amz-tagging': 'backup-tier=daily' });
  assert.deepEqual(actions(call), [
    's3:PutObject arn:aws:s3:::b/p/db/x.dump',
    's3:PutObjectTagging arn:aws:s3:::b/p/db/x.dump',
    `kms:GenerateDataKey ${D.kmsKeyArn}`,
  ]);
  const put = context(call, 's3:PutObject');
  assert.equal(put['s3:if-none-match'], '*');
  assert.equal(put['s3:ObjectCreationOperation'], 'true');
  assert.equal(put['s3:x-amz-server-side-encryption-aws-kms-key-id'], D.kmsKeyArn);
  assert.equal(context(call, 's3:PutObjectTagging')['s3:RequestObjectTag/backup-tier'], 'daily');
  const kms = context(call, 'kms:GenerateDataKey');
  assert.equal(kms['kms:ViaService'], 's3.eu-west-1.amazonaws.com');
  assert.equal(kms['kms:EncryptionContext:aws:s3:arn'], 'arn:aws:s3:::b', 'S3 Bucket Keys: the bucket ARN');
});

test('multipart: Create and UploadPart are s3:PutObject with ObjectCreationOperation=false; Complete carries If-None-Match; parts need kms:Decrypt', () => {
  const create = s3('POST', '/b/p/db/x.dump', { uploads: '' }, { ...SSE, 'x-amz-tagging': 'backup-tier=daily' });
  assert.equal(create.service === 's3' && create.operation, 'CreateMultipartUpload');
  assert.equal(context(create, 's3:PutObject')['s3:ObjectCreationOperation'], 'false');
  assert.ok(actions(create).includes('s3:PutObjectTagging arn:aws:s3:::b/p/db/x.dump'));
  assert.ok(actions(create).includes(`kms:GenerateDataKey ${D.kmsKeyArn}`));

  const part = s3('PUT', '/b/p/db/x.dump', { uploadId: 'u', partNumber: '1' });
  assert.deepEqual(actions(part), ['s3:PutObject arn:aws:s3:::b/p/db/x.dump', `kms:Decrypt ${D.kmsKeyArn}`]);
  assert.equal(context(part, 's3:PutObject')['s3:ObjectCreationOperation'], 'false');

  const complete = s3('POST', '/b/p/db/x.dump', { uploadId: 'u' }, { 'if-none-match': '*' });
  assert.deepEqual(actions(complete), ['s3:PutObject arn:aws:s3:::b/p/db/x.dump', `kms:Decrypt ${D.kmsKeyArn}`]);
  assert.equal(context(complete, 's3:PutObject')['s3:if-none-match'], '*');
  assert.equal(context(complete, 's3:PutObject')['s3:ObjectCreationOperation'], 'true');
});

test('versionId adds the Version action: tagging, reads, deletes', () => {
  const xml = '<Tagging><TagSet><Tag><Key>backup-tier</Key><Value>daily</Value></Tag></TagSet></Tagging>';
  const tagging = s3('PUT', '/b/p/x.dump', { tagging: '', versionId: 'v1' }, {}, xml);
  assert.deepEqual(actions(tagging), ['s3:PutObjectTagging arn:aws:s3:::b/p/x.dump', 's3:PutObjectVersionTagging arn:aws:s3:::b/p/x.dump']);
  assert.equal(context(tagging, 's3:PutObjectVersionTagging')['s3:versionid'], 'v1');
  assert.equal(context(tagging, 's3:PutObjectTagging')['s3:RequestObjectTag/backup-tier'], 'daily', 'tags from the XML body');
  assert.deepEqual(actions(s3('GET', '/b/p/x.dump', { versionId: 'v1' })).slice(0, 2), [
    's3:GetObject arn:aws:s3:::b/p/x.dump',
    's3:GetObjectVersion arn:aws:s3:::b/p/x.dump',
  ]);
  assert.deepEqual(actions(s3('DELETE', '/b/p/x.dump', { versionId: 'v1' }, { 'x-amz-bypass-governance-retention': 'true' })), [
    's3:DeleteObject arn:aws:s3:::b/p/x.dump',
    's3:DeleteObjectVersion arn:aws:s3:::b/p/x.dump',
    's3:BypassGovernanceRetention arn:aws:s3:::b/p/x.dump',
  ]);
});

test('existing object tags reach s3:ExistingObjectTag/<key>', () => {
  const call = s3('DELETE', '/b/p/x.dump', { tagging: '' });
  const r = authorizationsFor(call, { deployment: D, existing: { tags: { 'backup-tier': 'monthly' } } });
  assert.deepEqual(
    r.map((x) => [x.action, x.context['s3:ExistingObjectTag/backup-tier']]),
    [['s3:DeleteObjectTagging', 'monthly']],
  );
});

test('listing, copying, the other services', () => {
  const list = s3('GET', '/b/', { 'list-type': '2', prefix: 'p/db/2026' });
  assert.deepEqual(actions(list), ['s3:ListBucket arn:aws:s3:::b']);
  assert.equal(context(list, 's3:ListBucket')['s3:prefix'], 'p/db/2026');
  assert.deepEqual(actions(s3('GET', '/b/', { uploads: '' })), ['s3:ListBucketMultipartUploads arn:aws:s3:::b']);
  const copy = s3('PUT', '/other/x.dump', {}, { 'x-amz-copy-source': '/b/p/x.dump' });
  assert.deepEqual(actions(copy).slice(0, 2), ['s3:PutObject arn:aws:s3:::other/x.dump', 's3:GetObject arn:aws:s3:::b/p/x.dump']);

  const secret = toApiCall({
    seq: 1,
    service: 'secretsmanager',
    region: 'eu-west-1',
    method: 'POST',
    path: '/',
    query: {},
    headers: { 'x-amz-target': 'secretsmanager.GetSecretValue' },
    body: JSON.stringify({ SecretId: D.secretArn }),
    status: 200,
  });
  assert.deepEqual(actions(secret), [`secretsmanager:GetSecretValue ${D.secretArn}`]);
  const rds = toApiCall({
    seq: 1,
    service: 'rds',
    region: 'eu-west-1',
    method: 'POST',
    path: '/',
    query: {},
    headers: {},
    body: 'Action=DescribeDBInstances&DBInstanceIdentifier=app-db',
    status: 200,
  });
  assert.deepEqual(actions(rds), ['rds:DescribeDBInstances arn:aws:rds:eu-west-1:111122223333:db:app-db']);
  assert.deepEqual(actions({ service: 'rds-db', operation: 'connect', dbUser: 'u', status: 200 }), [`rds-db:connect ${D.dbUserArn}`]);
});

test('a request the table does not know is an error, not a pass', () => {
  assert.throws(() => actions(s3('PUT', '/b/', { policy: '' })), /no authorization rule/);
  assert.throws(
    () =>
      toApiCall({ seq: 1, service: 'sts', region: 'eu-west-1', method: 'POST', path: '/', query: {}, headers: {}, body: '', status: 200 }),
    /unrecognised AWS request/,
  );
  const kms = toApiCall({
    seq: 1,
    service: 'kms',
    region: 'eu-west-1',
    method: 'POST',
    path: '/',
    query: {},
    headers: { 'x-amz-target': 'TrentService.Decrypt' },
    body: '{}',
    status: 200,
  });
  assert.throws(() => actions(kms), /called KMS directly/);
});
