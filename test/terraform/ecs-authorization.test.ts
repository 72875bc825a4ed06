// The ECS runner and the restore drill, proven with the IAM evaluator on the rendered
// policies of runner = "ecs" with drills (terraform/rendered/ecs-*.json; the complete
// example with SCENARIOS.ecs): the task role may do exactly what the function's role
// may (same verdict for every request), the drill reads and writes verify records only.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { authorizationsFor, type ObjectState } from '../support/authz/actions.ts';
import { evaluate, type Evaluation } from '../support/authz/evaluate.ts';
import type { ApiCall, S3Operation } from '../support/authz/operations.ts';
import { loadPolicies, type PolicyDocument, type Principal, type RenderedPolicies } from '../support/authz/policies.ts';
import { RENDERED_DIR } from '../support/authz/policies.ts';

const TIER = 'backup-tier';
const base: RenderedPolicies = await loadPolicies();

function read(file: string): PolicyDocument {
  return JSON.parse(readFileSync(path.join(RENDERED_DIR, file), 'utf8')) as PolicyDocument;
}

/** The scenario's role ARNs follow the writer's: <name>-<region>-writer -> -ecs-task, -verify. */
function roleArn(suffix: string): string {
  return base.writer.arn.replace(/-writer$/, `-${suffix}`);
}

const ecs: RenderedPolicies = {
  ...base,
  source: 'terraform/rendered/ecs-*.json',
  writer: { arn: roleArn('ecs-task'), identity: [{ name: 'ecs-task-identity', policy: read('ecs-task-identity.json') }] },
  bucket: read('ecs-bucket-policy.json'),
  key: read('ecs-key-policy.json'),
};
const drill: Principal = {
  arn: roleArn('verify'),
  identity: [{ name: 'ecs-verify-drill-identity', policy: read('ecs-verify-drill-identity.json') }],
};

type S3Call = Extract<ApiCall, { service: 's3' }>;
function s3(operation: S3Operation, key: string, extra: Partial<Omit<S3Call, 'service' | 'operation' | 'key'>> = {}): S3Call {
  return {
    service: 's3',
    operation,
    bucket: base.deployment.bucket,
    key,
    versionId: null,
    headers: {},
    query: {},
    requestTags: {},
    lock: {},
    status: 200,
    ...extra,
  };
}

const kms = (): Record<string, string> => ({
  'x-amz-server-side-encryption': 'aws:kms',
  'x-amz-server-side-encryption-aws-kms-key-id': base.deployment.kmsKeyArn,
});
const dump = (): string => `${base.deployment.prefix}/app/20260101T010000Z-0123abcd.dump`;
const manifest = (): string => `${base.deployment.prefix}/app/20260101T010000Z-0123abcd.manifest.json`;
const record = (): string => `${base.deployment.prefix}/app/20260101T010000Z-0123abcd.verify.json`;
const existing: ObjectState = { tags: { [TIER]: 'daily' } };

async function verdicts(call: ApiCall, principal: Principal, policies: RenderedPolicies, state: ObjectState | null): Promise<Evaluation[]> {
  const out: Evaluation[] = [];
  for (const r of authorizationsFor(call, { deployment: policies.deployment, existing: state }))
    out.push(await evaluate(r, principal, policies));
  return out;
}

function show(evaluations: readonly Evaluation[]): string {
  return evaluations.map((e) => `  ${e.verdict} ${e.request.action} ${e.request.resource} [${e.reasons.join('; ')}]`).join('\n');
}

describe('the ECS task role is the backup writer, exactly', () => {
  const create = (): Record<string, string> => ({ ...kms(), 'x-amz-tagging': `${TIER}=daily` });
  const calls: readonly { name: string; call: () => ApiCall; state: ObjectState | null }[] = [
    {
      name: 'PutObject, new key, If-None-Match',
      call: () => s3('PutObject', dump(), { headers: { ...create(), 'if-none-match': '*' }, requestTags: { [TIER]: 'daily' } }),
      state: null,
    },
    {
      name: 'CreateMultipartUpload',
      call: () => s3('CreateMultipartUpload', dump(), { query: { uploads: '' }, headers: create(), requestTags: { [TIER]: 'daily' } }),
      state: null,
    },
    { name: 'UploadPart', call: () => s3('UploadPart', dump(), { query: { uploadId: 'u1', partNumber: '1' } }), state: null },
    {
      name: 'CompleteMultipartUpload, If-None-Match',
      call: () => s3('CompleteMultipartUpload', dump(), { query: { uploadId: 'u1' }, headers: { 'if-none-match': '*' } }),
      state: null,
    },
    { name: 'AbortMultipartUpload', call: () => s3('AbortMultipartUpload', dump(), { query: { uploadId: 'u1' } }), state: null },
    {
      name: 'ListObjectsV2 under the prefix',
      call: () => s3('ListObjectsV2', '', { query: { 'list-type': '2', prefix: `${base.deployment.prefix}/` } }),
      state: null,
    },
    { name: 'GetObject of a backup', call: () => s3('GetObject', dump()), state: existing },
    { name: 'DeleteObject of a backup', call: () => s3('DeleteObject', dump()), state: existing },
    {
      name: 'overwrite without If-None-Match',
      call: () => s3('PutObject', dump(), { headers: create(), requestTags: { [TIER]: 'daily' } }),
      state: existing,
    },
    {
      name: 're-tier with PutObjectTagging',
      call: () => s3('PutObjectTagging', dump(), { query: { tagging: '' }, requestTags: { [TIER]: 'yearly' } }),
      state: existing,
    },
    { name: 'write a verify record', call: () => s3('PutObject', record(), { headers: { ...kms(), 'if-none-match': '*' } }), state: null },
    {
      name: 'write outside the prefix',
      call: () => s3('PutObject', 'elsewhere/x.dump', { headers: { ...kms(), 'if-none-match': '*' } }),
      state: null,
    },
  ];
  for (const c of calls) {
    test(`${c.name}: the same verdicts as the function's role`, async () => {
      const fn = await verdicts(c.call(), base.writer, base, c.state);
      const task = await verdicts(c.call(), ecs.writer, ecs, c.state);
      assert.deepEqual(
        task.map((e) => `${e.request.action} ${e.verdict}`),
        fn.map((e) => `${e.request.action} ${e.verdict}`),
        `function:\n${show(fn)}\nECS task:\n${show(task)}`,
      );
    });
  }

  test('reads, deletes, overwrites, re-tiering and verify records are denied to the task role', async () => {
    for (const c of calls.slice(6)) {
      const task = await verdicts(c.call(), ecs.writer, ecs, c.state);
      assert.ok(
        task.some((e) => e.verdict !== 'Allowed'),
        `the ECS task may ${c.name}:\n${show(task)}`,
      );
    }
  });
});

describe('the restore drill reads backups and writes verify records only', () => {
  test('lists the prefix, reads a backup and its manifest, decrypts through S3, writes a tagged verify record', async () => {
    for (const call of [
      s3('ListObjectsV2', '', { query: { 'list-type': '2', prefix: `${base.deployment.prefix}/` } }),
      s3('GetObject', dump()),
      s3('GetObject', manifest()),
      s3('PutObject', record(), {
        headers: { ...kms(), 'x-amz-tagging': `${TIER}=daily`, 'content-type': 'application/json' },
        requestTags: { [TIER]: 'daily' },
      }),
    ]) {
      const evaluations = await verdicts(call, drill, ecs, call.operation === 'PutObject' ? null : existing);
      assert.ok(
        evaluations.every((e) => e.verdict === 'Allowed'),
        `drill ${call.operation} ${call.key}:\n${show(evaluations)}`,
      );
    }
  });

  test('cannot write, overwrite, re-tag or delete a backup or its manifest, nor write outside the prefix', async () => {
    for (const call of [
      s3('PutObject', dump(), { headers: { ...kms(), 'if-none-match': '*' } }),
      s3('PutObject', manifest(), { headers: { ...kms(), 'if-none-match': '*' } }),
      s3('CreateMultipartUpload', dump(), { query: { uploads: '' }, headers: kms() }),
      s3('PutObjectTagging', dump(), { query: { tagging: '' }, requestTags: { [TIER]: 'yearly' } }),
      s3('DeleteObject', dump()),
      s3('DeleteObject', dump(), { versionId: 'v1' }),
      s3('DeleteObject', record()),
      s3('PutObject', 'elsewhere/app/20260101T010000Z-0123abcd.verify.json', { headers: kms() }),
    ]) {
      const evaluations = await verdicts(call, drill, ecs, existing);
      assert.ok(
        evaluations.some((e) => e.verdict !== 'Allowed'),
        `the drill may ${call.operation} ${call.key}:\n${show(evaluations)}`,
      );
    }
  });
});
