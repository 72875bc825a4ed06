// Foresight in the Lambda's time budget, on the built artifact: the database sits behind a rate-limited link
// (test/support/pg-throttle.ts), so pg_dump really is slow and the server-side projection is what decides, not a
// mock. A dump that cannot finish is aborted within seconds (not at the timeout), with the numbers and the runner
// that fits; one that can finish is left alone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { assertNothingStored } from '../support/invariants.ts';
import { prepareLambda, scheduledEvent, type LambdaHarness } from '../support/lambda-runner.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPgThrottle, type PgThrottle } from '../support/pg-throttle.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

let moto: MotoServer;
let server: PgServer;
let slow: PgThrottle;
let lambda: LambdaHarness;
let secretArn = '';

/** Database bytes per second through the link: the ~29 MB of COPY text below then needs ~30 s. */
const RATE = 1_000_000;

before(async () => {
  [moto, server] = await Promise.all([startMoto(), startPostgres({ major: 18, ssl: true })]);
  lambda = prepareLambda();
  await server.query('create database big');
  await server.query(
    'create table events as select i, md5(i::text) || md5((i + 1)::text) as t from generate_series(1, 400000) i; analyze events',
    'big',
  );
  await server.query('create database small');
  await server.query('create table t as select i, md5(i::text) as t from generate_series(1, 20000) i; analyze t', 'small');
  slow = await startPgThrottle({ host: server.host, port: server.port }, RATE);
  const sm = new SecretsManagerClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  secretArn = (
    await sm.send(
      new CreateSecretCommand({
        Name: 'rsb-lambda-foresight',
        SecretString: JSON.stringify({ username: server.user, password: server.password, host: slow.host, port: slow.port }),
      }),
    )
  ).ARN!;
  sm.destroy();
});
after(async () => {
  await slow?.stop();
  lambda?.dispose();
  await Promise.all([moto?.stop(), server?.stop()]);
});

function env(bucket: string, databases: string): Record<string, string> {
  return lambda.env({
    ...moto.env(),
    RDS_S3_BACKUP_TO: `s3://${bucket}/p`,
    RDS_S3_BACKUP_SECRET_ID: secretArn,
    RDS_S3_BACKUP_DATABASES: databases,
    RDS_S3_BACKUP_COMPRESS: 'none',
    PGSSLROOTCERT: server.caFile!,
    RDS_S3_BACKUP_ABORT_MARGIN_SECONDS: '5',
  });
}

test('a dump projected past the budget is aborted early, with how long it needs and that runner = "ecs" fits', async (t) => {
  const bucket = await moto.createBucket();
  // 17 s of budget, 12 s before the margin: the ~30 s dump cannot make it, beyond the projection's tolerance.
  const out = await lambda.start(env(bucket, 'big'), [{ event: scheduledEvent(), timeoutMs: 17_000 }]).done;
  const r = out.results[0]!;
  assert.ok(!r.ok, JSON.stringify(r));
  t.diagnostic(`${r.error.message} (after ${Math.round(r.ms)} ms)`);
  assert.equal(r.error.name, 'ForesightAbortError');
  assert.match(r.error.message, /backing up big cannot finish within this Lambda invocation/);
  assert.match(r.error.message, /it needs about \d+:\d\d in all \(\d+:\d\d more\), but only 0:(0\d|1[0-2]) remain before the abort margin/);
  assert.match(r.error.message, /runner = "ecs" fits/);
  assert.match(r.error.message, /no partial backup was left/);
  assert.match(r.error.hint ?? '', /runner = "ecs"/);
  // The projection is stable after 5% (~1.5 s of dump): the abort comes long before the budget would have cut it.
  assert.ok(r.ms < 12_000, `aborted after ${Math.round(r.ms)} ms`);
  const need = /it needs about (\d+):(\d\d) in all/.exec(r.error.message)!;
  const needS = Number(need[1]) * 60 + Number(need[2]);
  // Early readings run ahead of the link by the loopback socket buffers (a few MB the server has already written):
  // the projection is optimistic here, and still says it cannot finish. The upper bound only rules out nonsense:
  // with both cores starved (issue 16's loaded runs, load ~7) the dump really ran at 0.4 MB/s and 98 s was projected.
  assert.ok(needS >= 10 && needS <= 240, `projected ${needS} s for ~30 s of dump (idle machine)`);
  const warn = out.stdout
    .split('\n')
    .concat(out.stderr.split('\n'))
    .filter((l) => l.includes('aborting early'));
  assert.equal(warn.length, 1, 'the early abort is logged once');
  await assertNothingStored(moto, bucket);
});

test('a dump that fits the budget is not aborted by the projection', async () => {
  const bucket = await moto.createBucket();
  const out = await lambda.start(env(bucket, 'small'), [{ event: scheduledEvent(), timeoutMs: 25_000 }]).done;
  const r = out.results[0]!;
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok(!`${out.stdout}${out.stderr}`.includes('aborting early'));
});
