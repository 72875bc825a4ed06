// Data that breaks naive backup tools: large objects, a 200 MB row, hostile database and table names, 10,000
// tables, an empty database, a lock table too small for pg_dump. Real PostgreSQL 18, the real pg_dump, moto; the
// stored archives are restored with the bundle's own pg_restore to prove they are whole.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { runCli } from '../../support/cli.ts';
import { startMoto, type MotoServer } from '../../support/moto.ts';
import { startPostgres, type PgServer } from '../../support/postgres.ts';
import { assertActionableFailure, assertBucketInvariants, assertNothingStored } from '../../support/invariants.ts';
import { packageBundleDir } from '../../../src/postgres/tools.ts';
import { quoteIdent } from '../../../src/postgres/source.ts';

let moto: MotoServer;
let pg: PgServer;
let work: string;

type Report = {
  ok: boolean;
  results: { database: string | null; ok: boolean; key: string; manifestKey: string | null; error: { message: string } | null }[];
};

before(async () => {
  [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18 })]);
  work = await mkdtemp(path.join(os.tmpdir(), 'rsb-reliability-data-'));
});
after(async () => {
  await Promise.all([moto?.stop(), pg?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** Restores `key` from the bucket into a new database with the bundle's pg_restore. */
async function restoreInto(bucket: string, key: string, db: string): Promise<void> {
  await pg.query(`create database ${quoteIdent(db)}`);
  const obj = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const child = spawn(path.join(packageBundleDir(), 'bin', 'pg_restore'), ['--no-owner', '--exit-on-error', `--dbname=${db}`], {
    env: { ...pg.env(db), PATH: '/usr/bin:/bin' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  for await (const chunk of obj.Body as AsyncIterable<Uint8Array>) {
    if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
  }
  child.stdin.end();
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 0, `pg_restore failed: ${stderr}`);
}

async function backup(bucket: string, databases: string, extra: string[] = []): Promise<Report> {
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, `--databases=${databases}`, '--json', ...extra], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as Report;
}

const PWNED = path.join(os.tmpdir(), `rsb-pwned-${process.pid}`);
const HOSTILE_DATABASES = [
  `Robert'); DROP DATABASE postgres;--`,
  `$(touch ${PWNED})`,
  `\`touch ${PWNED}\``,
  'a"b',
  'spaces ; and | pipes & amp',
  'ünïcødé 数据 🐘',
  '--help',
  '-d postgres',
  'host=127.0.0.1 port=1',
  'dbname=postgres',
  '..',
  '../../etc',
  '@globals',
  '%2F',
  'a,b',
  'x'.repeat(63),
  '数'.repeat(21),
];
const HOSTILE_TABLES = [`"; DROP TABLE x; --`, '$(id)', 'Ünïcode 表', 'a.b', '"quoted"', 'back\\slash', "it's"];

// First, while the server holds only these: `--databases all` then backs up nothing big.
test('hostile database and table names ⇒ every database backed up under a safe encoded key, names listed exactly, nothing executed', async () => {
  for (const name of HOSTILE_DATABASES) await pg.query(`create database ${quoteIdent(name)}`);
  const tablesDb = HOSTILE_DATABASES[0]!;
  for (const t of HOSTILE_TABLES)
    await pg.query(
      `create schema if not exists ${quoteIdent('sch; ' + t)}; create table ${quoteIdent('sch; ' + t)}.${quoteIdent(t)} as select 1 as x`,
      tablesDb,
    );

  const bucket = await moto.createBucket();
  const dir = path.join(work, 'names');
  const s3 = await backup(bucket, 'all', ['--row-counts']);
  const file = await runCli(['backup', '--to', `file://${dir}`, '--databases=all', '--json'], { ...pg.env('postgres') });
  assert.equal(file.code, 0, file.stderr);
  for (const report of [s3, JSON.parse(file.stdout) as Report]) {
    for (const name of HOSTILE_DATABASES) {
      const r = report.results.find((x) => x.database === name);
      assert.ok(r?.ok, `${name}: ${r?.error?.message ?? 'missing'}`);
      const segments = r.key.split('/');
      const folder = segments.at(-2)!;
      assert.match(folder, /^[A-Za-z0-9_%-]+$/, `${name} → ${r.key}`);
    }
  }
  // Listing decodes the names back exactly.
  const state = await assertBucketInvariants(moto, bucket);
  for (const name of HOSTILE_DATABASES)
    assert.ok(
      state.complete.some((b) => b.database === name),
      `${name} not listed as complete`,
    );
  // Row counts keyed by the odd table names, counted through properly quoted identifiers.
  const entry = state.complete.find((b) => b.database === tablesDb)!;
  const manifest = JSON.parse(
    await (await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: entry.manifestKey! }))).Body!.transformToString(),
  ) as { rowCounts: { tables: Record<string, number> } };
  for (const t of HOSTILE_TABLES) assert.equal(manifest.rowCounts.tables[`sch; ${t}.${t}`], 1, t);
  // Nothing in file:// escaped the root, nothing was executed.
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => (statSync(path.join(d, n)).isDirectory() ? walk(path.join(d, n)) : [path.join(d, n)]));
  for (const f of walk(dir)) {
    assert.ok(f.startsWith(dir + path.sep));
    assert.equal(path.relative(dir, f).split(path.sep).length, 2, f);
  }
  assert.ok(!existsSync(PWNED), 'a database name was executed by a shell');
  // The names also work one by one on the command line (not only through "all").
  const single = await backup(bucket, HOSTILE_DATABASES[1]!);
  assert.equal(single.results[0]!.ok, true);
  assert.ok(!existsSync(PWNED));
});

test('large objects (1,500 of them, one of 8 MB) ⇒ complete backup that restores every object byte for byte', async () => {
  await pg.query('create database lobs');
  // More than 1,000 objects: pg_dump 17+ splits them into several BLOBS entries.
  await pg.query("select lo_from_bytea(0, convert_to(repeat(md5(i::text), 1 + i % 50), 'UTF8')) from generate_series(1, 1500) i", 'lobs');
  await pg.query("select lo_from_bytea(0, decode(string_agg(md5(i::text), ''), 'hex')) from generate_series(1, 500000) i", 'lobs');
  const fingerprint = "select count(*) || ':' || md5(string_agg(md5(lo_get(oid)), ',' order by oid)) as v from pg_largeobject_metadata";
  const bucket = await moto.createBucket();
  const report = await backup(bucket, 'lobs');
  const state = await assertBucketInvariants(moto, bucket);
  assert.equal(state.complete.length, 1);
  await restoreInto(bucket, report.results[0]!.key, 'lobs_restored');
  const [a] = await pg.query<{ v: string }>(fingerprint, 'lobs');
  const [b] = await pg.query<{ v: string }>(fingerprint, 'lobs_restored');
  assert.match(a!.v, /^1501:/);
  assert.equal(b!.v, a!.v);
});

test('one 200 MB bytea value ⇒ complete backup that restores to the same bytes', async () => {
  await pg.query('create database wide');
  // 200 MiB (hex-encoded by COPY to 400 MiB in pg_dump's memory); compressible so moto does not hold 200 MB.
  await pg.query("create table w as select 1 as id, convert_to(repeat(md5('wide'), 6553600), 'UTF8') as b", 'wide');
  const bucket = await moto.createBucket();
  const report = await backup(bucket, 'wide');
  await assertBucketInvariants(moto, bucket);
  await restoreInto(bucket, report.results[0]!.key, 'wide_restored');
  const q = 'select length(b)::text || md5(b) as v from w';
  const [a] = await pg.query<{ v: string }>(q, 'wide');
  const [b] = await pg.query<{ v: string }>(q, 'wide_restored');
  assert.match(a!.v, /^209715200/);
  assert.equal(b!.v, a!.v);
});

test('10,000 tables ⇒ complete backup whose manifest lists all of them', async () => {
  await pg.query('create database many');
  await pg.query(
    "do $$ begin for i in 1..10000 loop execute format('create table t%s (id int)', i); if i % 1000 = 0 then commit; end if; end loop; end $$",
    'many',
  );
  const bucket = await moto.createBucket();
  const report = await backup(bucket, 'many');
  const state = await assertBucketInvariants(moto, bucket);
  assert.equal(state.complete.length, 1);
  const manifest = JSON.parse(
    await (await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: report.results[0]!.manifestKey! }))).Body!.transformToString(),
  ) as { toc: { tables: string[]; byType: Record<string, number> } };
  assert.equal(manifest.toc.tables.length, 10_000);
  assert.equal(manifest.toc.byType['TABLE DATA'], 10_000);
});

test('an empty database ⇒ complete backup that restores', async () => {
  await pg.query('create database empty');
  const bucket = await moto.createBucket();
  const report = await backup(bucket, 'empty');
  const state = await assertBucketInvariants(moto, bucket);
  assert.equal(state.complete.length, 1);
  await restoreInto(bucket, report.results[0]!.key, 'empty_restored');
});

test('more tables than the server lock table holds ⇒ fails with the error and the max_locks_per_transaction hint', async () => {
  const small = await startPostgres({ major: 18, settings: { max_locks_per_transaction: '10', max_connections: '10' } });
  try {
    await small.query('create database many');
    await small.query(
      "do $$ begin for i in 1..3000 loop execute format('create table t%s (id int)', i); if i % 100 = 0 then commit; end if; end loop; end $$",
      'many',
    );
    const bucket = await moto.createBucket();
    const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'many'], { ...small.env('postgres'), ...moto.env() });
    // pg_dump's next line echoes LOCK TABLE with all 3,000 tables: the error must still be in the message.
    const stderr = assertActionableFailure(res, /out of shared memory/, /max_locks_per_transaction/);
    assert.ok(stderr.length < 20_000, `stderr is ${stderr.length} characters`);
    await assertNothingStored(moto, bucket);
  } finally {
    await small.stop();
  }
});
