// An archive is code (issue 12): a NON-superuser role on the source plants a CHECK constraint whose plpgsql
// function tries `COPY ... TO PROGRAM` inside an exception block. On the source the attempt is denied and
// swallowed; a restore as superuser would run the program. verify must restore without that power: the marker
// file never appears, and verify says what isolation was in force. Also the three verdicts (issue 17): contrib
// extensions and an ICU collation verify; an extension the sandbox cannot create ⇒ could-not-verify, naming it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

let pg: PgServer;
let dir: string;
let markerDir: string;

type VerifyJson = {
  ok: boolean;
  verdict: string;
  missing: string[];
  summary: string;
  mismatches: string[];
  notes: string[];
  server: { isolation: string[] } | null;
};

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-sandbox-'));
  markerDir = await mkdtemp(path.join(os.tmpdir(), 'rsb-marker-'));
  // Writable by any OS user: only the database's refusal may keep the marker away, not file permissions.
  await chmod(markerDir, 0o1777);
  pg = await startPostgres({ major: 18 });
});
after(async () => {
  await pg?.stop();
  await Promise.all([dir && rm(dir, { recursive: true, force: true }), markerDir && rm(markerDir, { recursive: true, force: true })]);
});

async function backup(database: string): Promise<void> {
  const res = await runCli(
    ['backup', '--to', `file://${dir}`, '--databases', database, '--globals', '--row-counts', '-q'],
    pg.env('postgres'),
  );
  assert.equal(res.code, 0, res.stderr);
}

async function verify(database: string): Promise<{ code: number | null; json: VerifyJson; stderr: string }> {
  const res = await runCli(['verify', '--from', `file://${dir}`, '--database', database, '--latest', '--json'], {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  });
  return { code: res.code, json: JSON.parse(res.stdout) as VerifyJson, stderr: res.stderr };
}

test('a planted COPY ... TO PROGRAM in a CHECK constraint never runs during verify', async () => {
  const marker = path.join(markerDir, 'pwned');
  await pg.query('create database app');
  await pg.query(`create role app_owner login password 'app-pw'`);
  await pg.query('grant create on database app to app_owner', 'app');
  await pg.query('grant create on schema public to app_owner', 'app');
  // Planted by the non-superuser role itself (SET ROLE), as an application account could.
  await pg.query(
    `set role app_owner;
     create schema trap;
     create function trap.harmless(v int) returns boolean language plpgsql as $f$
     begin
       begin
         execute format('copy (select 1) to program %L', 'touch ${marker}');
       exception when others then null;
       end;
       return true;
     end $f$;
     create table trap.t (v int check (trap.harmless(v)));
     insert into trap.t select generate_series(1, 3);
     reset role;`,
    'app',
  );
  assert.equal(existsSync(marker), false, 'on the source the attempt is denied');
  await backup('app');
  const v = await verify('app');
  assert.equal(existsSync(marker), false, `verify ran the archive's program: ${JSON.stringify(v.json)}`);
  assert.equal(v.json.verdict, 'verified', JSON.stringify(v.json));
  assert.equal(v.code, 0);
  const iso = v.json.server?.isolation.join('\n') ?? '';
  assert.match(iso, /database role: rds_s3_backup_restore \(not superuser/);
  assert.match(iso, /network: /);
});

test('contrib extensions and an ICU collation verify; an extension the sandbox cannot create ⇒ could not verify', async () => {
  await pg.query('create database rich');
  await pg.query(
    `create extension pgcrypto; create extension hstore; create extension citext; create extension pg_trgm; create extension "uuid-ossp";
     create collation german (provider = icu, locale = 'de-DE');
     create table public.things (id uuid primary key default uuid_generate_v4(), name citext collate "C", tags hstore,
                                 secret bytea default gen_random_bytes(8), label text collate german);
     create index on public.things using gin (label gin_trgm_ops);
     insert into public.things (name, tags, label) select 'n' || i, 'a=>1', 'Straße ' || i from generate_series(1, 20) i;`,
    'rich',
  );
  await backup('rich');
  const ok = await verify('rich');
  assert.equal(ok.json.verdict, 'verified', JSON.stringify(ok.json));

  await pg.query('create database needy');
  // dblink is not a trusted extension: only a superuser creates it, and verify restores without one.
  await pg.query('create extension dblink; create table public.t (v int); insert into public.t values (1);', 'needy');
  await backup('needy');
  const inconclusive = await verify('needy');
  assert.equal(inconclusive.json.verdict, 'could-not-verify', JSON.stringify(inconclusive.json));
  assert.equal(inconclusive.code, 3);
  assert.ok(
    inconclusive.json.missing.some((m) => /extension dblink/.test(m)),
    JSON.stringify(inconclusive.json.missing),
  );
  assert.deepEqual(inconclusive.json.mismatches, []);
  const list = await runCli(['list', '--from', `file://${dir}`, '--database', 'needy'], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
  assert.match(list.stdout, /could not verify \?/);
  assert.doesNotMatch(list.stdout, /FAILED/);
});
