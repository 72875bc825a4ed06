// Restore and verify timings on a ~1 GB database (not part of the test suite: minutes, and ~3 GB of RAM for moto).
//   npm run build && npx node bench/restore-bench.ts            # ROWS=7000000 by default (pg_database_size ≈ 1 GB)
//   ROWS=500000 npx node bench/restore-bench.ts                 # quick run
// Compares `rds-s3-backup restore` from the local S3 server (moto) with `pg_restore` from a local file of the
// same archive, then times `verify` (throwaway server) and `verify --integrity-only` on that backup.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { runCli } from '../test/support/cli.ts';
import { startMoto } from '../test/support/moto.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { packageBundleDir } from '../src/postgres/tools.ts';

const ROWS = Number(process.env.ROWS ?? 7_000_000);
const REPS = Number(process.env.REPS ?? 1);
const PG_RESTORE = path.join(packageBundleDir(), 'bin', 'pg_restore');

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(0)} MiB`;
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  console.error(`  ${label}: ${(ms / 1000).toFixed(1)} s`);
  return { ms, value };
}

function run(file: string, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}: ${err.slice(-2000)}`))));
  });
}

const [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18 })]);
const work = await mkdtemp(path.join(os.tmpdir(), 'rsb-restore-bench-'));
try {
  const bucket = await moto.createBucket();
  console.error(`seeding ${ROWS} rows...`);
  await pg.query('create database big');
  await pg.query(
    `create table public.events (id bigint primary key, account int not null, kind text not null, payload text not null, at timestamptz not null);
     insert into public.events select i, i % 5000, (array['view','click','buy'])[1 + i % 3], md5(i::text) || md5((i * 7)::text), timestamptz '2026-01-01' + i * interval '1 second'
       from generate_series(1, ${ROWS}) i;
     create index on public.events (account, at);`,
    'big',
  );
  await pg.query('vacuum analyze public.events', 'big');
  const [size] = await pg.query<{ s: string }>("select pg_database_size('big')::text as s");
  const dbBytes = Number(size!.s);
  const pgEnv = pg.env('postgres');
  const env = { ...moto.env(), ...pgEnv };

  const backup = await timed('backup (zstd:3, --row-counts) to moto', () =>
    runCli(['backup', '--to', `s3://${bucket}/b`, '--databases', 'big', '--row-counts', '--json'], env),
  );
  if (backup.value.code !== 0) throw new Error(backup.value.stderr);
  const res = (JSON.parse(backup.value.stdout) as { results: { key: string; bytes: number }[] }).results[0]!;
  const obj = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: res.key }));
  const local = path.join(work, 'big.dump');
  await writeFile(local, Buffer.from(await obj.Body!.transformToByteArray()));

  const rows: string[][] = [];
  const fresh = async (name: string): Promise<void> => {
    await pg.query(`drop database if exists ${name} with (force)`);
    await pg.query(`create database ${name}`);
  };
  const pgRestoreEnv = {
    PGHOST: pgEnv.PGHOST!,
    PGPORT: pgEnv.PGPORT!,
    PGUSER: pgEnv.PGUSER!,
    PGPASSWORD: pgEnv.PGPASSWORD!,
    LC_ALL: 'C.UTF-8',
  };
  for (let rep = 0; rep < REPS; rep++) {
    await fresh('r1');
    rows.push([
      'pg_restore from a local file (1 job)',
      ((await timed('pg_restore file', () => run(PG_RESTORE, ['-d', 'r1', local], pgRestoreEnv))).ms / 1000).toFixed(1),
    ]);
    await fresh('r1');
    rows.push([
      'pg_restore -1 from a local file (1 job, one transaction)',
      ((await timed('pg_restore -1 file', () => run(PG_RESTORE, ['-1', '-d', 'r1', local], pgRestoreEnv))).ms / 1000).toFixed(1),
    ]);
    await fresh('r1');
    const s = await timed('restore from moto', () =>
      runCli(['restore', '--from', `s3://${bucket}/b`, '--database', 'big', '--latest', '--target', 'host=127.0.0.1 dbname=r1', '-q'], env),
    );
    if (s.value.code !== 0) throw new Error(s.value.stderr);
    rows.push(['rds-s3-backup restore from moto (streamed, SHA-256, one transaction)', (s.ms / 1000).toFixed(1)]);
    await fresh('r1');
    rows.push([
      'pg_restore -j 2 from a local file',
      ((await timed('pg_restore -j2 file', () => run(PG_RESTORE, ['-j', '2', '-d', 'r1', local], pgRestoreEnv))).ms / 1000).toFixed(1),
    ]);
    await fresh('r1');
    const j = await timed('restore --jobs 2 from moto', () =>
      runCli(
        [
          'restore',
          '--from',
          `s3://${bucket}/b`,
          '--database',
          'big',
          '--latest',
          '--jobs',
          '2',
          // One GET: moto copies the whole object for every ranged GET (docs/restore.md), which would measure moto.
          '--download-streams',
          '1',
          '--target',
          'host=127.0.0.1 dbname=r1',
          '-q',
        ],
        env,
      ),
    );
    if (j.value.code !== 0) throw new Error(j.value.stderr);
    rows.push(['rds-s3-backup restore --jobs 2 from moto (download, verify, pg_restore -j 2)', (j.ms / 1000).toFixed(1)]);
    const v = await timed('verify', () =>
      runCli(['verify', '--from', `s3://${bucket}/b`, '--database', 'big', '--latest', '--json'], moto.env()),
    );
    if (v.value.code !== 0) throw new Error(v.value.stdout + v.value.stderr);
    rows.push([
      `rds-s3-backup verify (throwaway PG ${JSON.parse(v.value.stdout).server.version}, restore + exact counts)`,
      (v.ms / 1000).toFixed(1),
    ]);
    const vi = await timed('verify --integrity-only', () =>
      runCli(['verify', '--from', `s3://${bucket}/b`, '--database', 'big', '--latest', '--integrity-only', '-q'], moto.env()),
    );
    if (vi.value.code !== 0) throw new Error(vi.value.stdout + vi.value.stderr);
    rows.push(['rds-s3-backup verify --integrity-only', (vi.ms / 1000).toFixed(1)]);
  }
  console.log(
    `database ${mib(dbBytes)} (pg_database_size, ${ROWS} rows + 2 indexes), archive ${mib(res.bytes)} (zstd:3), ${os.cpus().length} CPUs, PostgreSQL 18 target on the same machine`,
  );
  console.log('| what | seconds |\n| --- | --- |');
  for (const r of rows) console.log(`| ${r[0]} | ${r[1]} |`);
} finally {
  await rm(work, { recursive: true, force: true });
  await Promise.all([moto.stop(), pg.stop()]);
}
