// Authorization, proven: every AWS request that real backups make — the CLI (single PutObject and multipart,
// SSE-KMS, database and globals) and the built Lambda artifact (IAM database auth) — is recorded by a proxy in
// front of moto (test/support/aws-recorder.ts), mapped to the IAM actions, resources and condition keys AWS
// authorizes it with (test/support/authz/actions.ts) and evaluated by a real IAM policy evaluator against the
// module's writer identity policies + bucket policy + KMS key policy (+ VPC endpoint policy). Every request must be
// Allowed: when the engine starts making a request the module does not allow, this test fails and names it.
// The buckets are versioned, as the module's is.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { executeRestore } from '../../src/app/restore.ts';
import { parseCommandArgs } from '../../src/cli/args.ts';
import { collectRaw } from '../../src/core/config/raw.ts';
import { parseRestoreConfig } from '../../src/core/config/restore-config.ts';
import { S3Store } from '../../src/storage/s3.ts';
import { runCli } from '../support/cli.ts';
import { startAwsRecorder, type AwsRecorder, type RecordedRequest } from '../support/aws-recorder.ts';
import { authorizationsFor } from '../support/authz/actions.ts';
import { authorizeRecording, type Evaluation, formatEvaluations } from '../support/authz/evaluate.ts';
import { toApiCall, type ApiCall } from '../support/authz/operations.ts';
import {
  deniedOnlyByDefect,
  encryptionDenyDefect,
  loadPolicies,
  type Principal,
  type RenderedPolicies,
} from '../support/authz/policies.ts';
import { prepareLambda, scheduledEvent, type LambdaHarness } from '../support/lambda-runner.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

const PASSWORD = 'authz-test-password-4d1f';
/** The dedicated backup role of terraform/README.md; the rendered rds-db:connect names it. */
const BACKUP_ROLE = 'rds_s3_backup';

let moto: MotoServer;
let recorder: AwsRecorder;
let pg: PgServer;
let lambda: LambdaHarness;
let policies: RenderedPolicies;
let bucket: string;
let keyArn: string;

function aws(): Record<string, string> {
  return { ...moto.env(), AWS_ENDPOINT_URL: recorder.endpoint };
}

function s3Calls(records: readonly RecordedRequest[]): Extract<ApiCall, { service: 's3' }>[] {
  return records.map(toApiCall).filter((c): c is Extract<ApiCall, { service: 's3' }> => c.service === 's3');
}

/** Asserts every authorization is Allowed, except denials by the known defect only; returns those, for the log. */
async function assertAllAllowed(
  label: string,
  records: readonly RecordedRequest[],
  extraCalls: readonly ApiCall[] = [],
  principal: Principal = policies.writer,
): Promise<string> {
  assert.ok(records.length + extraCalls.length > 0, `${label}: nothing was recorded`);
  const rows = await authorizeRecording(records, principal, policies, {
    aliases: { bucket, kmsKeyIds: [keyArn] },
    extraCalls,
  });
  const notAllowed = (e: Evaluation): boolean => e.verdict !== 'Allowed' && !deniedOnlyByDefect(defect, e);
  assert.equal(
    rows.flatMap((r) => r.evaluations).filter(notAllowed).length,
    0,
    `${label}: requests the module's policies (${policies.source}) do not allow:\n${formatEvaluations(rows.filter((r) => r.evaluations.some(notAllowed)))}`,
  );
  const tolerated = rows.filter((r) => r.evaluations.some((e) => e.verdict !== 'Allowed'));
  return tolerated.length ? `${defect?.reason}:\n${formatEvaluations(tolerated)}` : '';
}

/** Every recorded request is one the authorization table knows (it throws on any other). */
function assertKnown(records: readonly RecordedRequest[]): void {
  for (const call of records.map(toApiCall)) authorizationsFor(call, { deployment: policies.deployment });
}

before(async () => {
  [moto, pg, policies] = await Promise.all([startMoto(), startPostgres({ major: 18, ssl: true, password: PASSWORD }), loadPolicies()]);
  recorder = await startAwsRecorder(moto.endpoint);
  lambda = prepareLambda();
  bucket = await moto.createBucket();
  const kms = new KMSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  keyArn = (await kms.send(new CreateKeyCommand({ Description: 'authorization test' }))).KeyMetadata!.Arn!;
  kms.destroy();
  // RDS checks the IAM token when the backup role connects; the local server stands in by trusting that role over
  // TLS (the token the function sends is then not checked here).
  await pg.query(`create role ${BACKUP_ROLE} login`);
  await pg.query(`grant pg_read_all_data to ${BACKUP_ROLE}`);
  const hba = path.join(pg.dataDir, 'pg_hba.conf');
  await writeFile(
    hba,
    `hostssl all ${BACKUP_ROLE} 127.0.0.1/32 trust\nhostssl all ${BACKUP_ROLE} ::1/128 trust\n${await readFile(hba, 'utf8')}`,
  );
  await pg.query('select pg_reload_conf()');
  await pg.query('create database app');
  await pg.query('create table small as select i, md5(i::text) as h from generate_series(1, 500) i', 'app');
  await pg.query('create database big');
  // Incompressible rows: the dump outgrows one 5 MiB part, so the upload is multipart.
  await pg.query(
    "create table blob as select i, decode(md5(random()::text) || md5(random()::text), 'hex') as b from generate_series(1, 250000) i",
    'big',
  );
});

after(async () => {
  lambda?.dispose();
  await recorder?.stop();
  await Promise.all([pg?.stop(), moto?.stop()]);
});

/** A known bucket-policy defect (see encryptionDenyDefect): its denials, and only those, are tolerated and printed. */
const defect = encryptionDenyDefect(await loadPolicies());

describe("every request of a real backup is allowed by the module's policies", () => {
  test('the CLI: single-part and multipart uploads with SSE-KMS, database and globals', async (t) => {
    recorder.clear();
    const to = `s3://${bucket}/${policies.deployment.prefix}`;
    const res = await runCli(
      [
        'backup',
        '--to',
        to,
        '--databases',
        'app,big',
        '--globals',
        '--kms-key-id',
        keyArn,
        '--compress',
        'none',
        '--part-size-mb',
        '5',
        '--json',
      ],
      {
        ...pg.env('postgres'),
        ...aws(),
      },
    );
    assert.equal(res.code, 0, res.stderr);
    const records = recorder.requests();
    const ops = new Set(s3Calls(records).map((c) => c.operation));
    for (const op of ['ListObjectsV2', 'PutObject', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload'] as const)
      assert.ok(ops.has(op), `the run made a ${op} (made: ${[...ops].join(', ')})`);
    const tolerated = await assertAllAllowed('CLI backup', records);
    if (tolerated) t.diagnostic(tolerated);
  });

  test('the built Lambda artifact with IAM database auth (the complete example), as the read-only backup role', async () => {
    recorder.clear();
    const run = lambda.start(
      lambda.env({
        ...aws(),
        RDS_S3_BACKUP_TO: `s3://${bucket}/${policies.deployment.prefix}`,
        RDS_S3_BACKUP_AUTH: 'iam',
        RDS_S3_BACKUP_KMS_KEY_ID: keyArn,
        RDS_S3_BACKUP_DATABASES: 'app',
        RDS_S3_BACKUP_GLOBALS: 'true',
        PGHOST: 'localhost',
        PGPORT: String(pg.port),
        PGUSER: BACKUP_ROLE,
        PGDATABASE: 'postgres',
        PGSSLROOTCERT: pg.caFile!,
      }),
      [{ event: scheduledEvent() }],
    );
    const out = await run.done;
    assert.equal(out.code, 0, `${out.stderr}\n${JSON.stringify(out.results)}`);
    // The token is presigned locally and checked by RDS when connecting: no HTTP request to record, so the
    // connection itself is the request.
    await assertAllAllowed('Lambda backup', recorder.requests(), [
      { service: 'rds-db', operation: 'connect', dbUser: BACKUP_ROLE, status: 200 },
    ]);
  });
});

describe('what the engine sends so that the bucket can refuse overwrites', () => {
  test('every object-creating request carries If-None-Match: * and the tier tag is set in the upload itself', async () => {
    recorder.clear();
    const res = await runCli(
      [
        'backup',
        '--to',
        `s3://${bucket}/${policies.deployment.prefix}`,
        '--databases',
        'app,big',
        '--kms-key-id',
        keyArn,
        '--compress',
        'none',
        '--part-size-mb',
        '5',
      ],
      {
        ...pg.env('postgres'),
        ...aws(),
      },
    );
    assert.equal(res.code, 0, res.stderr);
    const calls = s3Calls(recorder.requests());
    const creating = calls.filter((c) => c.operation === 'PutObject' || c.operation === 'CompleteMultipartUpload');
    assert.ok(creating.length >= 4, 'dumps and manifests');
    for (const c of creating) assert.equal(c.headers['if-none-match'], '*', `${c.operation} ${c.key} is conditional`);
    // The APIs that cannot take the condition do not get it (S3 would refuse them).
    for (const c of calls.filter((x) => x.operation === 'CreateMultipartUpload' || x.operation === 'UploadPart')) {
      assert.equal(c.headers['if-none-match'], undefined, `${c.operation} ${c.key}`);
    }
    // With Object Lock on, AWS requires Content-MD5 or an SDK checksum on every write that sends data.
    for (const c of calls.filter((x) => x.operation === 'PutObject' || x.operation === 'UploadPart')) {
      assert.ok(c.headers['x-amz-sdk-checksum-algorithm'] ?? c.headers['content-md5'], `${c.operation} ${c.key} carries a checksum`);
    }
    for (const c of calls.filter((x) => x.operation === 'PutObject' || x.operation === 'CreateMultipartUpload')) {
      assert.match(
        c.headers['x-amz-tagging'] ?? '',
        /(^|&)backup-tier=(daily|weekly|monthly|yearly)(&|$)/,
        `${c.operation} ${c.key} sets the tier at creation`,
      );
    }
    assert.deepEqual(
      calls
        .filter(
          (c) => !['ListObjectsV2', 'PutObject', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload'].includes(c.operation),
        )
        .map((c) => `${c.operation} ${c.key}`),
      [],
      'nothing after the upload: no tagging, no reads',
    );
  });
});

describe("the operators' requests are allowed by the reader and verify-record writer policies", () => {
  test('list and restore as the reader', async () => {
    const from = `s3://${bucket}/${policies.deployment.prefix}`;
    const made = await runCli(['backup', '--to', from, '--databases', 'app', '--kms-key-id', keyArn], { ...pg.env('postgres'), ...aws() });
    assert.equal(made.code, 0, made.stderr);
    await pg.query('create database restored');
    recorder.clear();
    const list = await runCli(['list', '--from', from, '--json'], aws());
    assert.equal(list.code, 0, list.stderr);
    const restore = await runCli(
      ['restore', '--from', from, '--database', 'app', '--latest', '--target', 'host=127.0.0.1 dbname=restored'],
      {
        ...pg.env('postgres'),
        ...aws(),
      },
    );
    assert.equal(restore.code, 0, restore.stderr);
    assertKnown(recorder.requests());
    assert.ok(policies.reader, 'the module renders a reader policy');
    await assertAllAllowed('list + restore', recorder.requests(), [], policies.reader);
  });

  test('restore --jobs 2 as the reader: the ranged GETs (Range + If-Match) are recorded and allowed', async () => {
    const from = `s3://${bucket}/${policies.deployment.prefix}`;
    const made = await runCli(['backup', '--to', from, '--databases', 'big', '--kms-key-id', keyArn, '--compress', 'none'], {
      ...pg.env('postgres'),
      ...aws(),
    });
    assert.equal(made.code, 0, made.stderr);
    await pg.query('create database restored_big');
    recorder.clear();
    // In process, to make the ranges 1 MiB (the CLI's are 8 MiB): the dump of `big` then spans several.
    const e = pg.env('postgres');
    const raw = collectRaw(
      'restore',
      parseCommandArgs('restore', [
        '--from',
        from,
        '--database',
        'big',
        '--latest',
        '--jobs',
        '2',
        '--target',
        'host=127.0.0.1 dbname=restored_big',
      ]).values,
      e,
    );
    const client = new S3Client({ endpoint: recorder.endpoint, region: moto.region, forcePathStyle: true, credentials: moto.credentials });
    const store = new S3Store({
      bucket,
      prefix: policies.deployment.prefix,
      kmsKeyId: null,
      client,
      ranges: { partSize: 1024 * 1024, concurrency: 4 },
    });
    await executeRestore(parseRestoreConfig(raw), { store, env: e });
    const ranged = s3Calls(recorder.requests()).filter((c) => c.operation === 'GetObject' && c.headers['range'] !== undefined);
    assert.ok(ranged.length >= 3, `the download was made of ranges (${ranged.length})`);
    assert.ok(
      ranged.slice(1).every((c) => c.headers['if-match'] !== undefined),
      'every range after the first carries If-Match',
    );
    assertKnown(recorder.requests());
    assert.ok(policies.reader, 'the module renders a reader policy');
    await assertAllAllowed('restore --jobs 2', recorder.requests(), [], policies.reader);
  });

  test('verify as reader + verify-record writer', async (t) => {
    const from = `s3://${bucket}/${policies.deployment.prefix}`;
    recorder.clear();
    const verify = await runCli(['verify', '--from', from, '--database', 'app', '--latest', '--json'], { ...pg.env('postgres'), ...aws() });
    assert.equal(verify.code, 0, verify.stderr);
    assertKnown(recorder.requests());
    assert.ok(policies.reader && policies.verifyWriter, 'the module renders reader and verify-record writer policies');
    const operator: Principal = {
      arn: policies.verifyWriter.arn,
      identity: [...policies.reader.identity, ...policies.verifyWriter.identity],
    };
    const tolerated = await assertAllAllowed('verify', recorder.requests(), [], operator);
    if (tolerated) t.diagnostic(tolerated);
  });
});
