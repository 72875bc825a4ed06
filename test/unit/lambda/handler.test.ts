// The handler without a database: configuration and event failures, the time budget at the start, and what
// reaches stdout (Powertools logs and EMF metrics). The full path runs in test/integration/lambda.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AbortedError, ConfigError } from '../../../src/core/errors.ts';
import { createHandler, type LambdaContext } from '../../../src/lambda/backup-handler.ts';

const CA = path.join(mkdtempSync(path.join(tmpdir(), 'lambda-handler-')), 'ca.pem');
writeFileSync(CA, 'x');

const ENV = {
  POWERTOOLS_SERVICE_NAME: 'nightly-backup',
  POWERTOOLS_METRICS_NAMESPACE: 'RdsS3Backup',
  RDS_S3_BACKUP_TO: 's3://backups-bucket/prod',
  PGHOST: 'db.abc123.eu-west-1.rds.amazonaws.com',
  PGUSER: 'backup',
  PGSSLROOTCERT: CA,
};

function context(remainingMs = 600_000): LambdaContext {
  const t0 = Date.now();
  return {
    awsRequestId: 'c0ffee00-1111-2222-3333-444455556666',
    functionName: 'nightly-backup',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:nightly-backup',
    memoryLimitInMB: '1024',
    getRemainingTimeInMillis: () => remainingMs - (Date.now() - t0),
  };
}

/** Everything written to stdout and stderr (Powertools logs errors there) while fn runs, as parsed JSON lines. */
async function capture<T>(fn: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; lines: Record<string, unknown>[] }> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((s) => s.write);
  for (const s of streams) {
    s.write = ((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    }) as typeof s.write;
  }
  let result: PromiseSettledResult<T>;
  try {
    result = await fn().then(
      (value) => ({ status: 'fulfilled', value }) as const,
      (reason: unknown) => ({ status: 'rejected', reason }) as const,
    );
  } finally {
    for (const [i, s] of streams.entries()) s.write = writes[i]!;
  }
  const lines = chunks
    .join('')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { result, lines };
}

const emf = (lines: Record<string, unknown>[], metric: string) => lines.filter((l) => '_aws' in l && metric in l);

test('an invalid environment fails every invocation with the list of bad variables and BackupFailed', async () => {
  const { lines: initLines, result: init } = await capture(async () =>
    createHandler({ env: { ...ENV, PGPASSWORD: 'Zz-distinctive-env-pw', RDS_S3_BACKUP_TO: 'file:///tmp' } }),
  );
  assert.equal(init.status, 'fulfilled');
  assert.ok(initLines.some((l) => l.level === 'ERROR' && /invalid function configuration/.test(String(l.message))));
  const handler = (init as PromiseFulfilledResult<ReturnType<typeof createHandler>>).value;
  for (let i = 0; i < 2; i++) {
    const { result, lines } = await capture(() => handler({}, context()));
    assert.equal(result.status, 'rejected');
    const err = (result as PromiseRejectedResult).reason as ConfigError;
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.issues.map((x) => x.field).sort(), ['PGPASSWORD', 'RDS_S3_BACKUP_TO']);
    const failed = emf(lines, 'BackupFailed');
    assert.equal(failed.length, 1);
    assert.deepEqual((failed[0]!._aws as { CloudWatchMetrics: { Dimensions: string[][]; Namespace: string }[] }).CloudWatchMetrics[0], {
      Namespace: 'RdsS3Backup',
      Dimensions: [['service']],
      Metrics: [{ Name: 'BackupFailed', Unit: 'Count' }],
    });
    assert.equal(failed[0]!.service, 'nightly-backup');
    assert.equal(emf(lines, 'BackupSucceeded').length, 0);
    assert.ok(!JSON.stringify(lines).includes('Zz-distinctive-env-pw'));
  }
});

test('a rejected event fails before any network call, and the request id is in the logs', async () => {
  const handler = (
    await capture(async () => createHandler({ env: ENV, describeInstance: async () => assert.fail('no network for a bad event') }))
  ).result;
  assert.equal(handler.status, 'fulfilled');
  const h = (handler as PromiseFulfilledResult<ReturnType<typeof createHandler>>).value;
  const { result, lines } = await capture(() => h({ databases: ['postgres'], bucket: 'attacker-bucket' }, context()));
  assert.equal(result.status, 'rejected');
  assert.match(String((result as PromiseRejectedResult).reason), /cannot change where backups go/);
  const error = lines.find((l) => l.level === 'ERROR');
  assert.equal(error?.function_request_id, 'c0ffee00-1111-2222-3333-444455556666');
  assert.equal(emf(lines, 'BackupFailed').length, 1);
});

test('no time left at the start: fails at once saying a longer-running runner is needed', async () => {
  const h = (await capture(async () => createHandler({ env: ENV }))).result as PromiseFulfilledResult<ReturnType<typeof createHandler>>;
  const t0 = Date.now();
  const { result, lines } = await capture(() => h.value({}, context(10_000)));
  assert.ok(Date.now() - t0 < 2000);
  const err = (result as PromiseRejectedResult).reason as AbortedError;
  assert.ok(err instanceof AbortedError, String(err));
  assert.match(
    err.message,
    /time budget ran out before the backup started; it needs a longer-running runner: the Terraform module's ECS Fargate task \(runner = "ecs"\) or the rds-s3-backup CLI/,
  );
  assert.equal(emf(lines, 'BackupFailed').length, 1);
});
