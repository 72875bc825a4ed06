// restore with real parts: PostgreSQL 18 (source and target), the bundled pg_restore/psql 18, moto as S3, the
// CLI as users run it. The integrity tests prove the gate: a bad object leaves the target exactly as it was.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runCli, type CliResult } from '../support/cli.ts';
import { fingerprint, seedShop } from '../support/dataset.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';
import { executeRestore } from '../../src/app/restore.ts';
import { collectRaw } from '../../src/core/config/raw.ts';
import { parseRestoreConfig } from '../../src/core/config/restore-config.ts';
import { parseCommandArgs } from '../../src/cli/args.ts';
import { S3Store } from '../../src/storage/s3.ts';
import { storeWith } from '../support/fixture-store.ts';

let moto: MotoServer;
let pg: PgServer;
let bucket: string;
type Backup = { id: string; key: string; manifestKey: string };
let first: Backup;
let second: Backup;
let stateFirst: Record<string, string>;
let stateSecond: Record<string, string>;

function env(): Record<string, string> {
  const e = pg.env('postgres');
  return { ...moto.env(), PGPASSWORD: e.PGPASSWORD!, PGUSER: e.PGUSER!, PGHOST: e.PGHOST!, PGPORT: e.PGPORT! };
}

function restore(args: string[]): Promise<CliResult> {
  return runCli(['restore', '--from', `s3://${bucket}/prod`, ...args], env());
}

async function backup(prefix: string, extra: string[] = []): Promise<Backup> {
  const res = await runCli(['backup', '--to', `s3://${bucket}/${prefix}`, '--databases', 'shop', '--row-counts', '--json', ...extra], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  assert.equal(res.code, 0, res.stderr);
  const r = (JSON.parse(res.stdout) as { results: { id: string; key: string; manifestKey: string }[] }).results[0]!;
  return { id: r.id, key: r.key, manifestKey: r.manifestKey };
}

async function getBytes(key: string): Promise<Buffer> {
  const r = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

async function putBytes(key: string, body: Buffer): Promise<void> {
  await moto.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function emptyDb(name: string): Promise<void> {
  await pg.query(`create database "${name}"`);
}

async function tables(db: string): Promise<string[]> {
  const rows = await pg.query<{ t: string }>(
    "select schemaname || '.' || tablename as t from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1",
    db,
  );
  return rows.map((r) => r.t);
}

function stampOf(id: string): string {
  const s = id.slice(0, 16);
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`;
}

before(async () => {
  [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18 })]);
  bucket = await moto.createBucket();
  await seedShop(pg, 'shop', 1000);
  stateFirst = await fingerprint(pg, 'shop');
  first = await backup('prod');
  // Second-resolution stamps: make the two backups' times differ, and their data too.
  await new Promise((r) => setTimeout(r, 1100));
  await pg.query("insert into shop.customers (email, name) values ('late@example.com', 'Late')", 'shop');
  stateSecond = await fingerprint(pg, 'shop');
  second = await backup('prod');
});
after(async () => {
  await Promise.all([moto?.stop(), pg?.stop()]);
});

test('--latest restores the newest backup into an existing empty database, in one transaction', async () => {
  await emptyDb('r_latest');
  const res = await restore(['--database', 'shop', '--latest', '--target', 'host=127.0.0.1 dbname=r_latest', '--json']);
  assert.equal(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout) as {
    ok: boolean;
    database: { backup: { id: string }; mode: string; sha256Verified: boolean; database: string };
  };
  assert.equal(report.ok, true);
  assert.equal(report.database.backup.id, second.id);
  assert.equal(report.database.mode, 'single-transaction');
  assert.equal(report.database.database, 'r_latest');
  assert.deepEqual(await fingerprint(pg, 'r_latest'), stateSecond);
});

test('--at picks the newest backup started at or before the time; --key names one', async () => {
  await emptyDb('r_at');
  const at = await restore(['--database', 'shop', '--at', stampOf(first.id), '--target', 'host=127.0.0.1 dbname=r_at']);
  assert.equal(at.code, 0, at.stderr);
  assert.match(at.stderr, new RegExp(`backup ${first.id}`));
  assert.deepEqual(await fingerprint(pg, 'r_at'), stateFirst);

  await emptyDb('r_key');
  // A key names its database by itself: no --database needed.
  const byKey = await restore(['--key', first.key, '--target', 'host=127.0.0.1 dbname=r_key', '-q']);
  assert.equal(byKey.code, 0, byKey.stderr);
  assert.deepEqual(await fingerprint(pg, 'r_key'), stateFirst);

  const before = await restore(['--database', 'shop', '--at', '2020-01-01T00:00:00Z', '--target', 'host=127.0.0.1 dbname=r_key']);
  assert.equal(before.code, 1);
  assert.match(before.stderr, /no complete backup of database "shop" matches/);
});

test('selective restore: one table, schema-qualified, checked against the backup first', async () => {
  await emptyDb('r_table');
  await pg.query('create schema shop', 'r_table');
  const res = await restore(['--database', 'shop', '--latest', '--table', 'shop.customers', '--target', 'host=127.0.0.1 dbname=r_table']);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(await tables('r_table'), ['shop.customers']);
  const [n] = await pg.query<{ n: string }>('select count(*)::text as n from shop.customers', 'r_table');
  assert.equal(n!.n, stateSecond.customers!.split(':')[0]);

  const missing = await restore([
    '--database',
    'shop',
    '--latest',
    '--table',
    'shop.Customers',
    '--target',
    'host=127.0.0.1 dbname=r_table',
  ]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /table shop\.Customers is not in this backup/);
  assert.match(missing.stderr, /hint: it exists as shop\.customers/);
});

test('--list shows what would be restored without a target', async () => {
  const res = await runCli(
    ['restore', '--from', `s3://${bucket}/prod`, '--database', 'shop', '--latest', '--list', '--table', 'shop.orders'],
    moto.env(),
  );
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /TABLE shop orders/);
  assert.match(res.stdout, /TABLE DATA shop orders/);
  assert.doesNotMatch(res.stdout, /TABLE shop customers/);
});

test('--jobs 2: downloaded, verified, then pg_restore -j', async () => {
  await emptyDb('r_jobs');
  const res = await restore(['--database', 'shop', '--latest', '--jobs', '2', '--target', 'host=127.0.0.1 dbname=r_jobs', '--json']);
  assert.equal(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout) as { database: { mode: string; jobs: number } };
  assert.equal(report.database.mode, 'parallel');
  assert.equal(report.database.jobs, 2);
  assert.deepEqual(await fingerprint(pg, 'r_jobs'), stateSecond);
});

test('an object without a manifest is never chosen by --latest, and refused by --key', async () => {
  const orphanId = '29991231T235959Z-0badf00d';
  await putBytes(`prod/shop/${orphanId}.dump`, await getBytes(second.key));
  try {
    await emptyDb('r_orphan');
    const res = await restore(['--database', 'shop', '--latest', '--target', 'host=127.0.0.1 dbname=r_orphan', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as { database: { backup: { id: string } }; passedOver: { id: string; status: string }[] };
    assert.equal(report.database.backup.id, second.id);
    assert.deepEqual(
      report.passedOver.map((p) => [p.id, p.status]),
      [[orphanId, 'incomplete']],
    );
    const text = await restore(['--database', 'shop', '--latest', '--list']);
    assert.match(text.stderr, /1 newer incomplete\/invalid backup\(s\) passed over/);
    const byKey = await restore(['--key', `prod/shop/${orphanId}.dump`, '--target', 'host=127.0.0.1 dbname=r_orphan']);
    assert.equal(byKey.code, 1);
    assert.match(byKey.stderr, /cannot be restored: incomplete: no manifest/);
  } finally {
    await moto
      .s3()
      .send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: bucket, Key: `prod/shop/${orphanId}.dump` }));
  }
});

/** A target that already holds data: a copy of the first backup plus a sentinel row, fingerprinted. */
async function occupiedTarget(name: string): Promise<Record<string, string>> {
  await emptyDb(name);
  const res = await restore(['--database', 'shop', '--key', first.key, '--target', `host=127.0.0.1 dbname=${name}`, '-q']);
  assert.equal(res.code, 0, res.stderr);
  await pg.query("create table public.sentinel (v text); insert into public.sentinel values ('untouched')", name);
  return { ...(await fingerprint(pg, name)), tables: (await tables(name)).join(',') };
}

test('one flipped byte (pg_restore would not notice it) ⇒ refused, nothing committed, target unchanged', async () => {
  // Uncompressed, so the flip lands in plain COPY text: pg_restore would happily restore the wrong value.
  const b = await backup('corrupt', ['--compress', 'none']);
  const body = await getBytes(b.key);
  const at = body.indexOf('user777@example.com');
  assert.ok(at > 0);
  body[at + 4] = '8'.charCodeAt(0); // user777 → user877: same size, still valid COPY data
  await putBytes(b.key, body);

  const before = await occupiedTarget('r_flip');
  // --clean: without the gate this would drop and replace everything in the target.
  const res = await runCli(
    [
      'restore',
      '--from',
      `s3://${bucket}/corrupt`,
      '--database',
      'shop',
      '--latest',
      '--clean',
      '--target',
      'host=127.0.0.1 dbname=r_flip',
    ],
    env(),
  );
  assert.equal(res.code, 1, res.stdout);
  assert.match(res.stderr, /does not match its manifest: SHA-256 [0-9a-f]{64}, manifest says [0-9a-f]{64}; refusing it/);
  assert.deepEqual({ ...(await fingerprint(pg, 'r_flip')), tables: (await tables('r_flip')).join(',') }, before);
  const [s] = await pg.query<{ v: string }>('select v from public.sentinel', 'r_flip');
  assert.equal(s!.v, 'untouched');
  const leftovers = await pg.query("select pid from pg_stat_activity where application_name like 'rds-s3-backup-restore-%'");
  assert.deepEqual(leftovers, [], 'the restore session is gone');
});

test('a truncated object in the bucket ⇒ refused before anything runs', async () => {
  const b = await backup('truncated');
  const body = await getBytes(b.key);
  await putBytes(b.key, body.subarray(0, Math.floor(body.length * 0.8)));
  await emptyDb('r_trunc_bucket');
  const res = await runCli(
    [
      'restore',
      '--from',
      `s3://${bucket}/truncated`,
      '--database',
      'shop',
      '--key',
      b.key,
      '--target',
      'host=127.0.0.1 dbname=r_trunc_bucket',
    ],
    env(),
  );
  assert.equal(res.code, 1);
  assert.match(res.stderr, /cannot be restored: invalid: object is \d+ bytes, manifest says \d+/);
  assert.deepEqual(await tables('r_trunc_bucket'), []);
});

test('a stream cut short after pg_restore has all it needs (selective restore) ⇒ still refused, target unchanged', async () => {
  // The bucket is fine; the connection "drops" 20% before the end. pg_restore restores shop.customers from the
  // first part of the archive and exits 0 long before that: only the gate stops the commit.
  const real = new S3Store({ bucket, prefix: 'prod', kmsKeyId: null, client: moto.s3() });
  const cut = storeWith(real, {
    read: async (key) => {
      if (!key.endsWith('.dump')) return real.read(key);
      const body = await getBytes(key);
      const short = body.subarray(0, Math.floor(body.length * 0.8));
      const parts: Buffer[] = [];
      for (let i = 0; i < short.length; i += 4096) parts.push(short.subarray(i, i + 4096));
      return Readable.from(parts);
    },
  });
  await emptyDb('r_trunc_stream');
  await pg.query('create schema shop', 'r_trunc_stream');
  const e = pg.env('postgres');
  const raw = collectRaw(
    'restore',
    parseCommandArgs('restore', [
      '--from',
      `s3://${bucket}/prod`,
      '--database',
      'shop',
      '--key',
      second.key,
      '--table',
      'shop.customers',
      '--target',
      'host=127.0.0.1 dbname=r_trunc_stream',
    ]).values,
    e,
  );
  await assert.rejects(
    executeRestore(parseRestoreConfig(raw), { store: cut, env: e }),
    /is truncated: \d+ of \d+ bytes arrived; refusing it/,
  );
  assert.deepEqual(await tables('r_trunc_stream'), []);
});

test('a failing statement rolls everything back (restore into a database that already has the objects)', async () => {
  const before = await occupiedTarget('r_conflict');
  const res = await restore(['--database', 'shop', '--latest', '--target', 'host=127.0.0.1 dbname=r_conflict']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /already exists/);
  assert.match(res.stderr, /hint: the target already has these objects/);
  assert.deepEqual({ ...(await fingerprint(pg, 'r_conflict')), tables: (await tables('r_conflict')).join(',') }, before);

  // --clean replaces the contents atomically.
  const clean = await restore(['--database', 'shop', '--latest', '--clean', '--target', 'host=127.0.0.1 dbname=r_conflict', '-q']);
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(await fingerprint(pg, 'r_conflict'), stateSecond);
});

test('a password given in --target is never printed', async () => {
  await emptyDb('r_secret');
  const e = pg.env('postgres');
  const url = `postgresql://${e.PGUSER}:${encodeURIComponent(e.PGPASSWORD!)}@127.0.0.1:${e.PGPORT}/r_secret`;
  const res = await runCli(
    ['restore', '--from', `s3://${bucket}/prod`, '--database', 'shop', '--latest', '--target', url, '--table', 'nope'],
    moto.env(),
  );
  assert.equal(res.code, 1);
  assert.ok(!res.stderr.includes(e.PGPASSWORD!), 'password not printed');
});
