// A failed dump must never look like a success: no object, no manifest, no open multipart upload, a loud error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { runCli, startCli } from '../support/cli.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';
import { freePort } from '../support/process.ts';
import { packageBundleDir } from '../../src/postgres/tools.ts';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/pg18-small.dump');
const PASSWORD = 'Zq9-distinctive-PASSWORD-7781';

let moto: MotoServer;
let pg: PgServer;
let work: string;
before(async () => {
  [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18, password: PASSWORD })]);
  work = await mkdtemp(path.join(os.tmpdir(), 'rsb-faults-'));
  await pg.query('create database big');
  // ~48 MB of random bytea: hex in COPY doubles it, so the uncompressed dump needs several 16 MiB parts.
  await pg.query(
    "create table blob as select i, decode(md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex') as b from generate_series(1, 750000) i",
    'big',
  );
});
after(async () => {
  await Promise.all([moto?.stop(), pg?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

async function assertNothingStored(bucket: string): Promise<void> {
  assert.deepEqual(await moto.listKeys(bucket), [], 'no object and no manifest');
  assert.deepEqual(await moto.listMultipartUploads(bucket), [], 'no multipart upload left open');
}

/** Direct children of `ppid` whose command line contains `needle`. */
function childPids(ppid: number, needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === ppid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      // process went away
    }
  }
  return out;
}

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('pg_dump killed mid-stream (multipart upload open) ⇒ upload aborted, nothing stored, signal named', async () => {
  const bucket = await moto.createBucket();
  const cli = startCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--compress', 'none'], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  await until(async () => ((await moto.listMultipartUploads(bucket)).length > 0 ? true : undefined), 60_000, 'a multipart upload to start');
  const [pid] = await until(
    () => {
      const p = childPids(cli.pid!, 'pg_dump');
      return p.length > 0 ? p : undefined;
    },
    10_000,
    'the pg_dump child',
  );
  process.kill(pid!, 'SIGKILL');
  const res = await cli.result;
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /pg_dump was killed by SIGKILL/);
  await assertNothingStored(bucket);
});

test('SIGTERM to the CLI mid-backup ⇒ pg_dump stopped, upload aborted before exit, exit 130', async () => {
  const bucket = await moto.createBucket();
  const cli = startCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--compress', 'none'], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  await until(async () => ((await moto.listMultipartUploads(bucket)).length > 0 ? true : undefined), 60_000, 'a multipart upload to start');
  const dumps = childPids(cli.pid!, 'pg_dump');
  cli.kill('SIGTERM');
  const res = await cli.result;
  assert.equal(res.code, 130, res.stderr);
  assert.match(res.stderr, /interrupted by SIGTERM/);
  // Checked right after exit, so the abort happened before the process ended.
  await assertNothingStored(bucket);
  for (const pid of dumps) assert.throws(() => process.kill(pid, 0), 'pg_dump must not outlive the CLI');
});

test('pg_dump exits non-zero after output (fake pg_dump) ⇒ aborted, exit code and stderr tail reported', async () => {
  const fake = path.join(work, 'fake-tools');
  await mkdir(path.join(fake, 'bin'), { recursive: true });
  await writeFile(
    path.join(fake, 'bin', 'pg_dump'),
    `#!/bin/sh
case "$1" in --version) echo "pg_dump (PostgreSQL) 18.0"; exit 0;; esac
cat '${FIXTURE}'
head -c 40000000 /dev/zero
echo 'pg_dump: error: Dumping the contents of table "blob" failed: PQgetResult() failed.' >&2
exit 3
`,
  );
  await chmod(path.join(fake, 'bin', 'pg_dump'), 0o755);
  const bucket = await moto.createBucket();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--pgtools-dir', fake], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  assert.equal(res.code, 1);
  assert.match(res.stderr, /pg_dump exited with code 3/);
  assert.match(res.stderr, /Dumping the contents of table "blob" failed/);
  await assertNothingStored(bucket);
});

test('pg_dump exits 0 but writes a non-archive ⇒ refused', async () => {
  const fake = path.join(work, 'liar-tools');
  await mkdir(path.join(fake, 'bin'), { recursive: true });
  await writeFile(
    path.join(fake, 'bin', 'pg_dump'),
    `#!/bin/sh\ncase "$1" in --version) echo "pg_dump (PostgreSQL) 18.0"; exit 0;; esac\necho "this is not an archive"\n`,
  );
  await chmod(path.join(fake, 'bin', 'pg_dump'), 0o755);
  const bucket = await moto.createBucket();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--pgtools-dir', fake], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  assert.equal(res.code, 1);
  assert.match(res.stderr, /not a pg_dump archive/);
  await assertNothingStored(bucket);
});

test('S3 unreachable ⇒ clear error naming S3 and what to check', async () => {
  const port = await freePort();
  const t0 = Date.now();
  const res = await runCli(['backup', '--to', 's3://some-bucket/p', '--databases', 'big'], {
    ...pg.env('postgres'),
    ...moto.env(),
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
  });
  assert.equal(res.code, 1);
  assert.match(res.stderr, /S3 .*failed/);
  assert.match(res.stderr, /S3 is unreachable/);
  assert.ok(Date.now() - t0 < 60_000);
});

test('bucket missing ⇒ clear error', async () => {
  const res = await runCli(['backup', '--to', 's3://no-such-bucket-rsb/p', '--databases', 'big'], { ...pg.env('postgres'), ...moto.env() });
  assert.equal(res.code, 1);
  assert.match(res.stderr, /NoSuchBucket|does not exist/);
});

test('wrong password ⇒ clear error within the connect timeout, password not echoed', async () => {
  const bucket = await moto.createBucket();
  const wrong = 'Wr0ng-distinctive-guess-5521';
  const t0 = Date.now();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--connect-timeout', '5'], {
    ...pg.env('postgres'),
    PGPASSWORD: wrong,
    ...moto.env(),
  });
  assert.equal(res.code, 1);
  assert.match(res.stderr, /password authentication failed/);
  assert.match(res.stderr, /hint: check the user and password/);
  assert.ok(Date.now() - t0 < 15_000);
  assert.ok(!`${res.stdout}${res.stderr}`.includes(wrong));
  await assertNothingStored(bucket);
});

test('unknown database ⇒ that database fails, the others still run, exit 1 with a per-database report', async () => {
  const bucket = await moto.createBucket();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'nope,postgres', '--json'], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  assert.equal(res.code, 1);
  const report = JSON.parse(res.stdout) as { ok: boolean; results: { database: string; ok: boolean; error: { message: string } | null }[] };
  assert.equal(report.ok, false);
  assert.match(report.results.find((r) => r.database === 'nope')!.error!.message, /database "nope" does not exist/);
  assert.equal(report.results.find((r) => r.database === 'postgres')!.ok, true);
  assert.match(res.stderr, /1 of 2 backup\(s\) failed/);
  assert.equal((await moto.listKeys(bucket)).filter((k) => k.includes('/nope/')).length, 0);
});

test('the password never appears in output, errors, manifests, metadata, or any child argv; pg_dump gets no AWS variables', async () => {
  // A recording wrapper around the real bundle: logs its argv and the names of its environment variables.
  const spy = path.join(work, 'spy-tools');
  const log = path.join(work, 'spy.log');
  await mkdir(path.join(spy, 'bin'), { recursive: true });
  for (const tool of ['pg_dump', 'pg_dumpall']) {
    const real = path.join(packageBundleDir(), 'bin', tool);
    await writeFile(
      path.join(spy, 'bin', tool),
      `#!/bin/sh\necho "CALL $0 $* ENV $(env | cut -d= -f1 | tr '\\n' ' ')" >> '${log}'\nexec '${real}' "$@"\n`,
    );
    await chmod(path.join(spy, 'bin', tool), 0o755);
  }
  const bucket = await moto.createBucket();
  const ok = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'postgres', '--globals', '--pgtools-dir', spy, '--json'], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  assert.equal(ok.code, 0, ok.stderr);
  const failed = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'nope', '--pgtools-dir', spy], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  assert.equal(failed.code, 1);

  const haystack: string[] = [ok.stdout, ok.stderr, failed.stdout, failed.stderr, await readFile(log, 'utf8')];
  for (const key of await moto.listKeys(bucket)) {
    const obj = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    haystack.push(Buffer.from(await obj.Body!.transformToByteArray()).toString('latin1'));
    const head = await moto.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    haystack.push(JSON.stringify(head.Metadata));
  }
  for (const text of haystack) assert.ok(!text.includes(PASSWORD), 'password leaked');
  const spyLog = await readFile(log, 'utf8');
  assert.match(spyLog, /CALL .*pg_dump .*--format=custom/);
  assert.match(spyLog, /CALL .*pg_dumpall .*--globals-only/);
  for (const line of spyLog.split('\n').filter((l) => l.startsWith('CALL ') && !l.includes('--version'))) {
    assert.doesNotMatch(line, /\bAWS_/, 'AWS variables must not reach pg tools');
    assert.match(line, /\bPGPASSWORD\b/);
  }
});
