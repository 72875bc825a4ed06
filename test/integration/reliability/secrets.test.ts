// The secrets harness: distinctive passwords (environment, conninfo URL, Secrets Manager) and a distinctive AWS
// secret key go through successful and failing runs of the CLI, the built Lambda artifact and the engine in
// process; then everything each run left or showed is searched: stdout/stderr, thrown errors with their causes
// and stacks, every object, its metadata and tags, /proc/<pid>/cmdline of every process of the run (sampled while
// it ran, with its executable and parent), pg_dump's environment (no AWS variables), and temp files. Zero hits.
// Each test collects and judges its own evidence (test/support/secrets-harness.ts), so each runs alone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startMoto, type MotoServer } from '../../support/moto.ts';
import { startPostgres, type PgServer } from '../../support/postgres.ts';
import { freePort } from '../../support/process.ts';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.ts';
import { processTree, sampleProcesses } from '../../support/proc-sampler.ts';
import { fakePgTools } from '../../support/fake-tools.ts';
import { prepareLambda, scheduledEvent, type LambdaHarness } from '../../support/lambda-runner.ts';
import { until } from '../../support/invariants.ts';
import {
  addObjects,
  addTempFiles,
  addText,
  cliRun,
  forkCopiesWithSecret,
  lambdaRun,
  openEvidence,
  secretHits,
  summary,
  type Evidence,
} from '../../support/secrets-harness.ts';
import { parseBackupConfig } from '../../../src/core/config/backup-config.ts';
import { collectRaw } from '../../../src/core/config/raw.ts';
import { executeBackup } from '../../../src/app/backup.ts';

const PASSWORD = 'Sx7-harness-PGPASSWORD-d41c9';
const SM_PASSWORD = 'Sx7-harness-SECRETSMGR-77ab2';
const WRONG_PASSWORD = 'Sx7-harness-WRONGGUESS-5e5e1';
const AWS_SECRET = 'Sx7harnessAWSsecretACCESSkey0000aa11bb22';
const SECRETS = [PASSWORD, SM_PASSWORD, WRONG_PASSWORD, AWS_SECRET];

let moto: MotoServer;
let pg: PgServer;
let slow: FaultProxy;
let lambda: LambdaHarness;
let work: string;
let goodSecretArn = '';
let wrongSecretArn = '';

function aws(): Record<string, string> {
  return { ...moto.env(), AWS_ACCESS_KEY_ID: 'AKIARSBHARNESS000001', AWS_SECRET_ACCESS_KEY: AWS_SECRET };
}

/** pg.env without the password and the address: what a Secrets Manager run gets. */
function tlsOnly(): Record<string, string> {
  const { PGPASSWORD: _p, PGUSER: _u, PGHOST: _h, PGPORT: _o, ...rest } = pg.env('postgres');
  return rest;
}

// Shared read-only fixtures: one server (its databases are only read by the runs below), moto, two secrets.
before(async () => {
  [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18, ssl: true, password: PASSWORD })]);
  lambda = prepareLambda();
  work = await mkdtemp(path.join(os.tmpdir(), 'rsb-reliability-secrets-'));
  slow = await startFaultProxy(moto.endpoint, (r) => (r.op === 'UploadPart' ? { kind: 'delay', ms: 300 } : undefined));
  await pg.query(`create role smuser login superuser password '${SM_PASSWORD}'`);
  await pg.query('create database app');
  await pg.query("create table items as select i, 'item ' || i as name from generate_series(1, 1000) i", 'app');
  await pg.query('create database big');
  await pg.query(
    "create table blob as select i, decode(md5(random()::text) || md5(random()::text), 'hex') as b from generate_series(1, 400000) i",
    'big',
  );
  const sm = new SecretsManagerClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  const secret = (password: string): string =>
    JSON.stringify({ engine: 'postgres', username: 'smuser', password, host: 'localhost', port: pg.port, dbname: 'postgres' });
  goodSecretArn = (await sm.send(new CreateSecretCommand({ Name: 'rsb-harness/good', SecretString: secret(SM_PASSWORD) }))).ARN!;
  wrongSecretArn = (await sm.send(new CreateSecretCommand({ Name: 'rsb-harness/wrong', SecretString: secret(WRONG_PASSWORD) }))).ARN!;
  sm.destroy();
});
after(async () => {
  await slow?.stop();
  lambda?.dispose();
  await Promise.all([moto?.stop(), pg?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** Searches this test's evidence (plus its bucket's objects and new temp files) and asserts zero hits. */
async function assertZeroHits(ev: Evidence, bucket: string | undefined, extraDirs: string[] = []): Promise<void> {
  if (bucket) await addObjects(ev, moto, bucket);
  addTempFiles(ev, extraDirs);
  const hits = secretHits(ev, SECRETS);
  assert.deepEqual(hits, [], `secrets found:\n${hits.join('\n')}`);
  // pg_dump gets its password through its environment (by design) but nothing of AWS.
  for (const e of ev.dumpEnvironments) {
    assert.ok(!e.names.some((n) => n.startsWith('AWS_')), `pg_dump ${e.pid} has AWS variables: ${e.names.join(' ')}`);
    assert.ok(!e.raw.includes(AWS_SECRET));
  }
  console.log(`# ${summary(ev)}`);
}

test('CLI: successful runs (PGPASSWORD, Secrets Manager, password in a conninfo URL; S3 and file://) leak nothing', async () => {
  const ev = openEvidence();
  const bucket = await moto.createBucket();
  const viaEnv = await cliRun(
    ev,
    'cli env',
    [
      'backup',
      '--to',
      `s3://${bucket}/p`,
      '--databases',
      'big,app',
      '--globals',
      '--row-counts',
      '--compress',
      'none',
      '--part-size-mb',
      '5',
    ],
    {
      ...pg.env('postgres'),
      ...aws(),
      AWS_ENDPOINT_URL: slow.endpoint,
    },
  );
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  const viaSecret = await cliRun(
    ev,
    'cli secret',
    ['backup', '--auth', 'secret', '--secret-id', goodSecretArn, '--to', `s3://${bucket}/p`, '--databases', 'app', '--json'],
    { ...tlsOnly(), ...aws() },
  );
  assert.equal(viaSecret.code, 0, viaSecret.stderr);
  const files = path.join(work, 'files');
  const url = `postgresql://postgres:${encodeURIComponent(PASSWORD)}@localhost:${pg.port}/app?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.caFile!)}`;
  const viaUrl = await cliRun(ev, 'cli url', ['backup', '--dbname', url, '--to', `file://${files}`], {});
  assert.equal(viaUrl.code, 0, viaUrl.stderr);
  assert.match(viaUrl.stderr, /^warning: --dbname contains a password, which every user of this machine can read \(ps, \/proc\)/m);
  // The URL is on this CLI's own command line (the user's choice, warned about); what matters is that the password
  // reaches no child process: every descendant's argv is searched.
  assert.ok(ev.samples.some((s) => s.root && s.cmdline.includes('--dbname postgresql://')));
  const list = await cliRun(ev, 'cli list', ['list', '--from', `s3://${bucket}/p`, '--json'], aws());
  assert.equal(list.code, 0, list.stderr);
  assert.ok(
    ev.samples.some((s) => /libexec\/pg_dump /.test(s.cmdline)),
    'the sampler saw pg_dump running',
  );
  assert.ok(ev.dumpEnvironments.length > 0, 'pg_dump environments were sampled');
  await assertZeroHits(ev, bucket, [files]);
  const copies = forkCopiesWithSecret(ev, SECRETS);
  if (copies.length > 0)
    console.log(`# ${copies.length} fork copies of the CLI showed its own --dbname before exec (not a leak: its argv)`);
});

test('CLI: failing runs (wrong password, wrong secret, unreachable server, S3 gone, pg_dump killed, bad config) leak nothing', async () => {
  const ev = openEvidence();
  const bucket = await moto.createBucket();
  const wrong = await cliRun(ev, 'cli wrong pw', ['backup', '--to', `s3://${bucket}/p`, '--databases', 'app'], {
    ...pg.env('postgres'),
    PGPASSWORD: WRONG_PASSWORD,
    ...aws(),
  });
  assert.equal(wrong.code, 1);
  const wrongSecret = await cliRun(
    ev,
    'cli wrong secret',
    ['backup', '--auth', 'secret', '--secret-id', wrongSecretArn, '--to', `s3://${bucket}/p`],
    { ...tlsOnly(), ...aws() },
  );
  assert.equal(wrongSecret.code, 1);
  const missingSecret = await cliRun(
    ev,
    'cli missing secret',
    ['backup', '--auth', 'secret', '--secret-id', 'rsb-harness/none', '--to', `s3://${bucket}/p`],
    { ...tlsOnly(), ...aws() },
  );
  assert.equal(missingSecret.code, 1);
  const closed = await freePort();
  const unreachable = await cliRun(ev, 'cli unreachable', ['backup', '--to', `s3://${bucket}/p`], {
    ...pg.env('postgres'),
    PGPORT: String(closed),
    ...aws(),
  });
  assert.equal(unreachable.code, 1);

  const gone = await startFaultProxy(moto.endpoint);
  const s3gone = await cliRun(
    ev,
    'cli s3 gone',
    ['backup', '--to', `s3://${bucket}/gone`, '--databases', 'big', '--compress', 'none', '--part-size-mb', '5'],
    { ...pg.env('postgres'), ...aws(), AWS_ENDPOINT_URL: gone.endpoint },
    async () => {
      await gone.waitFor((e) => e.op === 'UploadPart' && e.status === 200);
      await gone.disappear();
    },
  );
  assert.equal(s3gone.code, 1);

  const killed = await cliRun(
    ev,
    'cli pg_dump killed',
    ['backup', '--to', `s3://${bucket}/killed`, '--databases', 'big', '--compress', 'none', '--part-size-mb', '5'],
    { ...pg.env('postgres'), ...aws(), AWS_ENDPOINT_URL: slow.endpoint },
    async (pid) => {
      const dump = await until(
        () =>
          processTree(pid).find((p) => {
            try {
              return /libexec\/pg_dump\0.*--format=custom/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8'));
            } catch {
              return false;
            }
          }),
        30_000,
        'pg_dump',
      );
      process.kill(dump, 'SIGKILL');
    },
  );
  assert.equal(killed.code, 1);
  assert.match(killed.stderr, /killed by SIGKILL/);

  const badConfig = await cliRun(
    ev,
    'cli bad config',
    ['backup', '--dbname', `postgres://u:${encodeURIComponent(PASSWORD)}@h/db`, '--to', 'ftp://x', '--compress', 'bogus'],
    {},
  );
  assert.equal(badConfig.code, 2);
  await assertZeroHits(ev, bucket);
});

test('the built Lambda artifact: Secrets Manager success and failure, and its time budget expiring mid-dump, leak nothing', async () => {
  const ev = openEvidence();
  const bucket = await moto.createBucket();
  const base = { ...aws(), RDS_S3_BACKUP_TO: `s3://${bucket}/lambda`, RDS_S3_BACKUP_SECRET_ID: goodSecretArn, PGSSLROOTCERT: pg.caFile! };
  const ok = await lambdaRun(
    ev,
    lambda,
    'lambda ok',
    { ...base, RDS_S3_BACKUP_DATABASES: 'app', RDS_S3_BACKUP_GLOBALS: 'true' },
    scheduledEvent(),
  );
  assert.equal(ok.code, 0, ok.stderr);
  const failed = await lambdaRun(ev, lambda, 'lambda wrong secret', { ...base, RDS_S3_BACKUP_SECRET_ID: wrongSecretArn }, scheduledEvent());
  assert.equal(failed.code, 1);
  // Part uploads that take 10 s: the budget (8 s, 5 s margin) runs out mid-dump.
  const crawl = await startFaultProxy(moto.endpoint, (q) => (q.op === 'UploadPart' ? { kind: 'delay', ms: 10_000 } : undefined));
  const budget = await lambdaRun(
    ev,
    lambda,
    'lambda budget',
    {
      ...base,
      RDS_S3_BACKUP_DATABASES: 'big',
      RDS_S3_BACKUP_COMPRESS: 'none',
      RDS_S3_BACKUP_PART_SIZE_MB: '5',
      RDS_S3_BACKUP_ABORT_MARGIN_SECONDS: '5',
      // The margin abort with a part upload in flight (what this scan is about), not the projection's early abort.
      RDS_S3_BACKUP_EARLY_ABORT: 'false',
      AWS_ENDPOINT_URL: crawl.endpoint,
    },
    scheduledEvent(),
    8_000,
  );
  await crawl.stop();
  assert.equal(budget.code, 1);
  const r = budget.results[0]!;
  assert.ok(
    !r.ok && r.error.name === 'AbortedError' && /time budget ran out while backing up big/.test(r.error.message),
    JSON.stringify(r),
  );
  assert.ok(r.remainingMs > 0, 'reported before the function timeout');
  // A password in the function configuration is refused without being echoed.
  const pwEnv = await lambdaRun(ev, lambda, 'lambda PGPASSWORD env', { ...base, PGPASSWORD: PASSWORD }, scheduledEvent());
  assert.equal(pwEnv.code, 1);
  assert.ok(
    ev.samples.some((s) => /runner\.mjs/.test(s.cmdline)),
    'the sampler saw the Lambda runner',
  );
  await assertZeroHits(ev, bucket);
});

test('the engine in process: thrown errors and every cause in their chain leak nothing', async () => {
  const ev = openEvidence();
  const bucket = await moto.createBucket();
  const saved = { ...process.env };
  Object.assign(process.env, aws());
  try {
    const configs = [
      {
        label: 'wrong password',
        raw: collectRaw('backup', { to: `s3://${bucket}/inproc`, databases: 'app' }, { ...pg.env('postgres'), PGPASSWORD: WRONG_PASSWORD }),
      },
      {
        label: 'url to closed port',
        raw: collectRaw(
          'backup',
          { to: `s3://${bucket}/inproc`, dbname: `postgres://postgres:${encodeURIComponent(PASSWORD)}@127.0.0.1:${await freePort()}/app` },
          {},
        ),
      },
      {
        label: 'missing secret',
        raw: collectRaw('backup', { to: `s3://${bucket}/inproc`, auth: 'secret', secretId: 'rsb-harness/none' }, pg.env('postgres')),
      },
    ];
    for (const c of configs) {
      const config = parseBackupConfig(c.raw);
      try {
        const report = await executeBackup(config, { env: process.env });
        addText(ev, `in-process ${c.label} report`, inspect(report, { depth: Infinity }));
      } catch (err) {
        addText(ev, `in-process ${c.label} error`, inspect(err, { depth: Infinity, showHidden: true }));
        addText(ev, `in-process ${c.label} error json`, JSON.stringify(err, Object.getOwnPropertyNames(err as object)));
      }
    }
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  assert.ok(ev.texts.length >= 3);
  await assertZeroHits(ev, bucket);
});

test('the harness catches a password in a child’s argv: a deliberately leaking fake pg_dump fails the search', async () => {
  // The fake pg_dump starts a helper with PGPASSWORD on its command line, as a careless tool would.
  const tools = await fakePgTools(path.join(work, 'leaky'), `sh -c 'sleep 1; exit 1' leaky-helper "$PGPASSWORD"; exit 1`);
  const ev = openEvidence();
  const res = await cliRun(
    ev,
    'cli leaky pg_dump',
    ['backup', '--to', `file://${path.join(work, 'leaky-out')}`, '--databases', 'app', '--pgtools-dir', tools],
    pg.env('postgres'),
  );
  assert.equal(res.code, 1, res.stderr);
  const hits = secretHits(ev, SECRETS);
  assert.equal(hits.length, 1, hits.join('\n'));
  // The hit names the process that carried it: the helper shell, a child of the fake pg_dump (itself a shell).
  assert.match(hits[0]!, /^argv of pid \d+ exe=\/\S*(dash|bash|sh) ppid \d+ parentExe=\/\S*(dash|bash|sh): contains Sx7-harness-/);
  assert.ok(!hits[0]!.includes('fork copy'));
});

test('a fork copy (forked, not yet exec’d) is recognised by its executable and judged as its parent', async () => {
  // A sh subshell is a fork that never execs: the same executable and argv as its parent, for as long as it runs.
  const marker = 'Sx7-harness-PGPASSWORD-d41c9';
  const child = spawn('/bin/sh', ['-c', '( sleep 1; : ); :', 'root-sh', marker], { stdio: 'ignore' });
  const sampler = sampleProcesses(child.pid!);
  await new Promise((resolve) => child.on('close', resolve));
  const samples = sampler.stop();
  const copy = samples.find((s) => !s.root && s.cmdline.includes(marker));
  assert.ok(copy, `the subshell was sampled: ${JSON.stringify(samples)}`);
  assert.equal(copy.forkCopy, true);
  assert.equal(copy.exe, copy.parentExe);
  assert.equal(copy.ppid, child.pid);
  const sleep = samples.find((s) => /^sleep 1$/.test(s.cmdline));
  assert.ok(sleep && !sleep.forkCopy && sleep.exe !== copy.exe, 'the exec’d sleep is a process of its own');
  // Its parent is the root, so the harness does not count it; were the parent anything else, it would.
  const ev = openEvidence();
  ev.samples.push(...samples);
  assert.deepEqual(secretHits(ev, [marker]), []);
  const orphaned = { ...openEvidence(), samples: samples.filter((s) => !s.root) };
  assert.match(
    secretHits(orphaned, [marker]).join('\n'),
    new RegExp(`^argv of pid ${child.pid} \\(seen in its fork copy pid ${copy.pid} `),
  );
});
