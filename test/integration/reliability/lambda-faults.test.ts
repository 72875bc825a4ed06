// The built Lambda artifact under faults: its time budget running out while S3 stalls or while pg_dump waits for a
// lock, and S3 failing for good. Same invariants as the CLI: nothing that looks like a backup, no open upload, an
// error (and a logged hint) that says what failed and what to do. Lambda's own timeout (the runtime freezing the
// process) cannot be reproduced here: the runner fakes getRemainingTimeInMillis (see docs/reliability.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startMoto, type MotoServer } from '../../support/moto.ts';
import { startPostgres, type PgServer } from '../../support/postgres.ts';
import { faults, startFaultProxy, type FaultProxy } from '../../support/fault-proxy.ts';
import { prepareLambda, scheduledEvent, type LambdaHarness } from '../../support/lambda-runner.ts';
import { assertNothingStored } from '../../support/invariants.ts';
import { processTree } from '../../support/proc-sampler.ts';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

let moto: MotoServer;
let server: PgServer;
let lambda: LambdaHarness;
let secretArn = '';
const proxies: FaultProxy[] = [];

before(async () => {
  [moto, server] = await Promise.all([startMoto(), startPostgres({ major: 18, ssl: true })]);
  lambda = prepareLambda();
  await server.query('create database big');
  await server.query(
    "create table blob as select i, decode(md5(random()::text) || md5(random()::text), 'hex') as b from generate_series(1, 400000) i",
    'big',
  );
  await server.query('create database locked');
  await server.query('create table accounts as select i from generate_series(1, 100) i', 'locked');
  const sm = new SecretsManagerClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  secretArn = (
    await sm.send(
      new CreateSecretCommand({
        Name: 'rsb-lambda-faults',
        SecretString: JSON.stringify({ username: server.user, password: server.password, host: 'localhost', port: server.port }),
      }),
    )
  ).ARN!;
  sm.destroy();
});
after(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  lambda?.dispose();
  await Promise.all([moto?.stop(), server?.stop()]);
});

async function proxy(rule: Parameters<typeof startFaultProxy>[1]): Promise<FaultProxy> {
  const p = await startFaultProxy(moto.endpoint, rule);
  proxies.push(p);
  return p;
}

function env(bucket: string, extra: Record<string, string>): Record<string, string> {
  return lambda.env({
    ...moto.env(),
    RDS_S3_BACKUP_TO: `s3://${bucket}/p`,
    RDS_S3_BACKUP_SECRET_ID: secretArn,
    PGSSLROOTCERT: server.caFile!,
    RDS_S3_BACKUP_ABORT_MARGIN_SECONDS: '5',
    ...extra,
  });
}

test('time budget runs out while a part upload hangs ⇒ the hung request is cancelled, upload aborted, failure reported in time', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy(faults.onPart(2, { kind: 'hang' }, 'all'));
  const run = lambda.start(
    env(bucket, {
      RDS_S3_BACKUP_DATABASES: 'big',
      RDS_S3_BACKUP_COMPRESS: 'none',
      RDS_S3_BACKUP_PART_SIZE_MB: '5',
      AWS_ENDPOINT_URL: p.endpoint,
      // The hung-part path itself, not the projection's early abort (lambda-foresight.test.ts covers that).
      RDS_S3_BACKUP_EARLY_ABORT: 'false',
    }),
    [{ event: scheduledEvent(), timeoutMs: 9_000 }],
  );
  const out = await run.done;
  const r = out.results[0]!;
  assert.ok(!r.ok, JSON.stringify(r));
  assert.equal(r.error.name, 'AbortedError');
  assert.match(r.error.message, /time budget ran out while backing up big/);
  assert.match(r.error.hint ?? '', /longer-running runner/);
  assert.ok(r.remainingMs > 1000, `reported with ${r.remainingMs} ms left: the hung part upload held up the abort`);
  assert.ok(p.log.some((e) => e.op === 'CreateMultipartUpload'));
  assert.ok(p.log.some((e) => e.op === 'AbortMultipartUpload' && e.status === 204));
  await assertNothingStored(moto, bucket);
});

test('time budget runs out while pg_dump waits for a table lock ⇒ pg_dump killed, nothing stored', async () => {
  const holder = new pg.Client({
    host: '127.0.0.1',
    port: server.port,
    user: server.user,
    password: server.password,
    database: 'locked',
    ssl: { ca: (await import('node:fs')).readFileSync(server.caFile!, 'utf8') },
  });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query('lock table accounts in access exclusive mode');
    const bucket = await moto.createBucket();
    // The default --lock-wait-timeout (2 min) is longer than the budget: the budget must win.
    const run = lambda.start(env(bucket, { RDS_S3_BACKUP_DATABASES: 'locked' }), [{ event: scheduledEvent(), timeoutMs: 9_000 }]);
    let dumps: number[] = [];
    const watch = setInterval(() => {
      dumps = [...new Set([...dumps, ...processTree(run.pid!).slice(1)])];
    }, 50);
    const out = await run.done;
    clearInterval(watch);
    const r = out.results[0]!;
    assert.ok(!r.ok && r.error.name === 'AbortedError', JSON.stringify(r));
    assert.ok(r.remainingMs > 0);
    for (const pid of dumps) {
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        // gone
      }
      assert.ok(!alive, `child ${pid} outlived the invocation`);
    }
    const waiting = await server.query<{ n: string }>(
      "select count(*)::text as n from pg_stat_activity where datname = 'locked' and wait_event_type = 'Lock'",
    );
    assert.equal(waiting[0]!.n, '0', "pg_dump's session is gone from the server");
    await assertNothingStored(moto, bucket);
  } finally {
    await holder.query('rollback').catch(() => undefined);
    await holder.end();
  }
});

test('S3 keeps answering 503 on a part ⇒ the invocation fails naming S3, the logged hint says what to do, nothing stored', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy(faults.onPart(2, { kind: 'status', status: 503, code: 'ServiceUnavailable' }, 'all'));
  const run = lambda.start(
    env(bucket, {
      RDS_S3_BACKUP_DATABASES: 'big',
      RDS_S3_BACKUP_COMPRESS: 'none',
      RDS_S3_BACKUP_PART_SIZE_MB: '5',
      AWS_ENDPOINT_URL: p.endpoint,
    }),
    [{ event: scheduledEvent(), timeoutMs: 120_000 }],
  );
  const out = await run.done;
  const r = out.results[0]!;
  assert.ok(!r.ok, JSON.stringify(r));
  assert.match(r.error.message, /big: S3 upload of s3:\/\/.*failed: ServiceUnavailable/);
  const logged = [...out.stdout.split('\n'), ...out.stderr.split('\n')]
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const failed = logged.find((l) => l.message === 'backup failed') as { error?: { hint?: string } } | undefined;
  assert.match(failed?.error?.hint ?? '', /S3 kept answering with a server error/);
  await assertNothingStored(moto, bucket);
});

// Found by this suite: when cleanup could not finish before the hard stop, the error used to claim the upload was aborted.
test('time budget runs out and S3 also swallows the abort ⇒ the error admits that an incomplete upload may remain', async () => {
  const bucket = await moto.createBucket();
  const p = await proxy((q) =>
    (q.op === 'UploadPart' && q.partNumber === 2) || q.op === 'AbortMultipartUpload' ? { kind: 'hang' } : undefined,
  );
  const run = lambda.start(
    env(bucket, {
      RDS_S3_BACKUP_DATABASES: 'big',
      RDS_S3_BACKUP_COMPRESS: 'none',
      RDS_S3_BACKUP_PART_SIZE_MB: '5',
      AWS_ENDPOINT_URL: p.endpoint,
    }),
    [{ event: scheduledEvent(), timeoutMs: 9_000 }],
  );
  const out = await run.done;
  const r = out.results[0]!;
  assert.ok(!r.ok && r.error.name === 'AbortedError', JSON.stringify(r));
  assert.ok(r.remainingMs > 0);
  // The upload really is still open (the abort never reached S3) ...
  assert.equal((await moto.listMultipartUploads(bucket)).length, 1);
  assert.deepEqual(await moto.listKeys(bucket), []);
  // ... so the message must not claim otherwise.
  assert.doesNotMatch(r.error.message, /no partial backup was left/);
  assert.match(r.error.message, /incomplete multipart upload may remain/);
});
