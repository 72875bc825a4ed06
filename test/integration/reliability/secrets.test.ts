// The secrets harness: distinctive passwords (environment, conninfo URL, Secrets Manager) and a distinctive AWS
// secret key go through successful and failing runs of the CLI, the built Lambda artifact and the engine in
// process; then everything those runs left or showed is searched: stdout/stderr, thrown errors with their causes
// and stacks, every object, its metadata and tags, /proc/<pid>/cmdline of every process of the run (sampled while
// it ran), pg_dump's environment (no AWS variables), and temp files. Zero hits.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startCli, type CliResult } from '../../support/cli.ts';
import { startMoto, type MotoServer } from '../../support/moto.ts';
import { startPostgres, type PgServer } from '../../support/postgres.ts';
import { freePort } from '../../support/process.ts';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.ts';
import { sampleProcesses, processTree, type ProcSample } from '../../support/proc-sampler.ts';
import { prepareLambda, scheduledEvent, type LambdaHarness, type LambdaRun } from '../../support/lambda-runner.ts';
import { until } from '../../support/invariants.ts';
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
let bucket: string;
let goodSecretArn = '';
let wrongSecretArn = '';
let tmpBefore: Set<string>;

/** Everything to search, labelled for the failure message. */
const haystack: { label: string; text: string }[] = [];
const samples: ProcSample[] = [];
const dumpEnvironments: { pid: number; names: string[]; raw: string }[] = [];

function add(label: string, text: string): void {
  haystack.push({ label, text });
}

function aws(): Record<string, string> {
  return { ...moto.env(), AWS_ACCESS_KEY_ID: 'AKIARSBHARNESS000001', AWS_SECRET_ACCESS_KEY: AWS_SECRET };
}

before(async () => {
  tmpBefore = new Set(readdirSync(os.tmpdir()));
  [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18, ssl: true, password: PASSWORD })]);
  lambda = prepareLambda();
  work = await mkdtemp(path.join(os.tmpdir(), 'rsb-reliability-secrets-'));
  slow = await startFaultProxy(moto.endpoint, (r) => (r.op === 'UploadPart' ? { kind: 'delay', ms: 300 } : undefined));
  bucket = await moto.createBucket();
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

/** pg_dump / pg_dumpall processes seen: record their environment variable names (and raw text for the AWS key). */
function recordDumpEnvironments(root: number): void {
  for (const pid of processTree(root)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/pg_dump/.test(cmd)) continue;
      const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
      dumpEnvironments.push({
        pid,
        raw,
        names: raw
          .split('\0')
          .filter(Boolean)
          .map((kv) => kv.split('=')[0]!),
      });
    } catch {
      // exited
    }
  }
}

async function cli(
  label: string,
  args: string[],
  env: Record<string, string>,
  during?: (pid: number) => Promise<void>,
): Promise<CliResult> {
  const run = startCli(args, env);
  const sampler = sampleProcesses(run.pid!);
  const envTimer = setInterval(() => recordDumpEnvironments(run.pid!), 20);
  if (during) await during(run.pid!);
  const res = await run.result;
  clearInterval(envTimer);
  samples.push(...sampler.stop());
  add(`${label} stdout`, res.stdout);
  add(`${label} stderr`, res.stderr);
  return res;
}

async function lambdaRun(label: string, env: Record<string, string>, event: unknown, timeoutMs?: number): Promise<LambdaRun> {
  const run = lambda.start(lambda.env(env), [{ event, ...(timeoutMs ? { timeoutMs } : {}) }]);
  const sampler = sampleProcesses(run.pid!);
  const envTimer = setInterval(() => recordDumpEnvironments(run.pid!), 20);
  const out = await run.done;
  clearInterval(envTimer);
  samples.push(...sampler.stop());
  add(`${label} stdout`, out.stdout);
  add(`${label} stderr`, out.stderr);
  add(`${label} result`, JSON.stringify(out.results));
  return out;
}

test('CLI: successful runs (PGPASSWORD, Secrets Manager, password in a conninfo URL; S3 and file://)', async () => {
  const viaEnv = await cli(
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
  const { PGPASSWORD: _p, PGUSER: _u, PGHOST: _h, PGPORT: _o, ...tlsOnly } = pg.env('postgres');
  const viaSecret = await cli(
    'cli secret',
    ['backup', '--auth', 'secret', '--secret-id', goodSecretArn, '--to', `s3://${bucket}/p`, '--databases', 'app', '--json'],
    { ...tlsOnly, ...aws() },
  );
  assert.equal(viaSecret.code, 0, viaSecret.stderr);
  const url = `postgresql://postgres:${encodeURIComponent(PASSWORD)}@localhost:${pg.port}/app?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.caFile!)}`;
  const viaUrl = await cli('cli url', ['backup', '--dbname', url, '--to', `file://${path.join(work, 'files')}`], {});
  assert.equal(viaUrl.code, 0, viaUrl.stderr);
  // The URL is on this CLI's own command line (the user's choice; the README says secrets have no flag); what
  // matters is that the password reaches no child process: the final check covers every descendant.
  assert.ok(samples.some((s) => s.root && s.cmdline.includes('--dbname postgresql://')));
  const list = await cli('cli list', ['list', '--from', `s3://${bucket}/p`, '--json'], aws());
  assert.equal(list.code, 0, list.stderr);
});

test('CLI: failing runs (wrong password, wrong secret, unreachable server, S3 gone, pg_dump killed, bad config)', async () => {
  const wrong = await cli('cli wrong pw', ['backup', '--to', `s3://${bucket}/p`, '--databases', 'app'], {
    ...pg.env('postgres'),
    PGPASSWORD: WRONG_PASSWORD,
    ...aws(),
  });
  assert.equal(wrong.code, 1);
  const { PGPASSWORD: _p, PGUSER: _u, PGHOST: _h, PGPORT: _o, ...tlsOnly } = pg.env('postgres');
  const wrongSecret = await cli(
    'cli wrong secret',
    ['backup', '--auth', 'secret', '--secret-id', wrongSecretArn, '--to', `s3://${bucket}/p`],
    { ...tlsOnly, ...aws() },
  );
  assert.equal(wrongSecret.code, 1);
  const missingSecret = await cli(
    'cli missing secret',
    ['backup', '--auth', 'secret', '--secret-id', 'rsb-harness/none', '--to', `s3://${bucket}/p`],
    { ...tlsOnly, ...aws() },
  );
  assert.equal(missingSecret.code, 1);
  const closed = await freePort();
  const unreachable = await cli('cli unreachable', ['backup', '--to', `s3://${bucket}/p`], {
    ...pg.env('postgres'),
    PGPORT: String(closed),
    ...aws(),
  });
  assert.equal(unreachable.code, 1);

  const gone = await startFaultProxy(moto.endpoint);
  const s3gone = await cli(
    'cli s3 gone',
    ['backup', '--to', `s3://${bucket}/gone`, '--databases', 'big', '--compress', 'none', '--part-size-mb', '5'],
    { ...pg.env('postgres'), ...aws(), AWS_ENDPOINT_URL: gone.endpoint },
    async () => {
      await gone.waitFor((e) => e.op === 'UploadPart' && e.status === 200);
      await gone.disappear();
    },
  );
  assert.equal(s3gone.code, 1);

  const killed = await cli(
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

  const badConfig = await cli(
    'cli bad config',
    ['backup', '--dbname', `postgres://u:${encodeURIComponent(PASSWORD)}@h/db`, '--to', 'ftp://x', '--compress', 'bogus'],
    {},
  );
  assert.equal(badConfig.code, 2);
});

test('the built Lambda artifact: Secrets Manager success and failure, and its time budget expiring mid-dump', async () => {
  const base = { ...aws(), RDS_S3_BACKUP_TO: `s3://${bucket}/lambda`, RDS_S3_BACKUP_SECRET_ID: goodSecretArn, PGSSLROOTCERT: pg.caFile! };
  const ok = await lambdaRun('lambda ok', { ...base, RDS_S3_BACKUP_DATABASES: 'app', RDS_S3_BACKUP_GLOBALS: 'true' }, scheduledEvent());
  assert.equal(ok.code, 0, ok.stderr);
  const failed = await lambdaRun('lambda wrong secret', { ...base, RDS_S3_BACKUP_SECRET_ID: wrongSecretArn }, scheduledEvent());
  assert.equal(failed.code, 1);
  // Part uploads that take 10 s: the budget (8 s, 5 s margin) runs out mid-dump.
  const crawl = await startFaultProxy(moto.endpoint, (q) => (q.op === 'UploadPart' ? { kind: 'delay', ms: 10_000 } : undefined));
  const budget = await lambdaRun(
    'lambda budget',
    {
      ...base,
      RDS_S3_BACKUP_DATABASES: 'big',
      RDS_S3_BACKUP_COMPRESS: 'none',
      RDS_S3_BACKUP_PART_SIZE_MB: '5',
      RDS_S3_BACKUP_ABORT_MARGIN_SECONDS: '5',
      AWS_ENDPOINT_URL: crawl.endpoint,
    },
    scheduledEvent(),
    8_000,
  );
  await crawl.stop();
  assert.equal(budget.code, 1);
  const r = budget.results[0]!;
  // The budget abort, or the early abort when the projection already says the dump cannot finish: both are scanned.
  assert.ok(!r.ok && ['AbortedError', 'ForesightAbortError'].includes(r.error.name), JSON.stringify(r));
  assert.ok(r.remainingMs > 0, 'reported before the function timeout');
  // A password in the function configuration is refused without being echoed.
  const pwEnv = await lambdaRun('lambda PGPASSWORD env', { ...base, PGPASSWORD: PASSWORD }, scheduledEvent());
  assert.equal(pwEnv.code, 1);
});

test('the engine in process: thrown errors and every cause in their chain', async () => {
  Object.assign(process.env, aws());
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
      add(`in-process ${c.label} report`, inspect(report, { depth: Infinity }));
    } catch (err) {
      add(`in-process ${c.label} error`, inspect(err, { depth: Infinity, showHidden: true }));
      add(`in-process ${c.label} error json`, JSON.stringify(err, Object.getOwnPropertyNames(err as object)));
    }
  }
});

test('zero hits: outputs, errors, objects, metadata, tags, process command lines, pg_dump environments, temp files', async () => {
  // Objects, their metadata and tags.
  for (const key of await moto.listKeys(bucket)) {
    const body = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    add(`object ${key}`, Buffer.from(await body.Body!.transformToByteArray()).toString('latin1'));
    const head = await moto.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    add(`metadata ${key}`, JSON.stringify(head.Metadata));
    const tags = await moto.s3().send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
    add(`tags ${key}`, JSON.stringify(tags.TagSet));
  }
  // Temp files: everything new under the temp dir (other test files' servers excluded), and the file:// target.
  const walk = (p: string, depth = 0): string[] => {
    try {
      const st = statSync(p);
      if (st.isFile()) return st.size < 64 * 1024 * 1024 ? [p] : [];
      if (!st.isDirectory() || depth > 6) return [];
      return readdirSync(p).flatMap((n) => walk(path.join(p, n), depth + 1));
    } catch {
      return [];
    }
  };
  const fresh = readdirSync(os.tmpdir()).filter(
    (n) => !tmpBefore.has(n) && !n.startsWith('rds-s3-backup-pg') && !n.startsWith('rds-s3-backup-pgtemplates'),
  );
  const files = [...fresh.flatMap((n) => walk(path.join(os.tmpdir(), n))), ...walk(path.join(work, 'files'))];
  for (const f of files) {
    if (existsSync(f)) add(`temp file ${f}`, readFileSync(f).toString('latin1'));
  }
  assert.ok(!files.some((f) => f.includes('.partial-')), 'no partial upload left in the file:// target');
  // Command lines of every process seen.
  // Every child and grandchild (pg_dump, pg_dumpall, the bundle's loader, sh); the roots are the CLI and the
  // Lambda runner started by this test with arguments it chose.
  for (const s of samples.filter((x) => !x.root)) add(`cmdline of ${s.pid}`, s.cmdline);
  assert.ok(
    samples.some((s) => /libexec\/pg_dump /.test(s.cmdline)),
    'the sampler saw pg_dump running',
  );
  assert.ok(
    samples.some((s) => /runner\.mjs/.test(s.cmdline)),
    'the sampler saw the Lambda runner',
  );

  const hits: string[] = [];
  for (const { label, text } of haystack) {
    for (const s of SECRETS) {
      if (text.includes(s) || text.includes(encodeURIComponent(s))) hits.push(`${label}: contains ${s.slice(0, 12)}…`);
    }
  }
  assert.deepEqual(hits, [], `secrets found:\n${hits.join('\n')}`);

  // pg_dump gets its password through its environment (by design) but nothing of AWS.
  assert.ok(dumpEnvironments.length > 0, 'pg_dump environments were sampled');
  for (const e of dumpEnvironments) {
    assert.ok(!e.names.some((n) => n.startsWith('AWS_')), `pg_dump ${e.pid} has AWS variables: ${e.names.join(' ')}`);
    assert.ok(!e.raw.includes(AWS_SECRET));
  }
  console.log(
    `# searched ${haystack.length} texts (${(haystack.reduce((n, h) => n + h.text.length, 0) / 1024 / 1024).toFixed(1)} MiB), ${samples.length} process command lines, ${dumpEnvironments.length} pg_dump environments, ${files.length} temp files`,
  );
});
