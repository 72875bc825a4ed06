// Where a restore goes (issue 17): the environment names server A (as an operator's shell does after a backup),
// --target names server B. libpq's order says B; the old merge of PG* variables with flags restored into A.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli.ts';
import { fingerprint, seedShop } from '../support/dataset.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

let a: PgServer;
let b: PgServer;
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-precedence-'));
  [a, b] = await Promise.all([startPostgres({ major: 18 }), startPostgres({ major: 18 })]);
  await seedShop(a, 'shop', 300);
  const res = await runCli(['backup', '--to', `file://${dir}`, '--databases', 'shop', '--row-counts', '-q'], a.env('postgres'));
  assert.equal(res.code, 0, res.stderr);
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function databases(pg: PgServer): Promise<string[]> {
  return (await pg.query<{ datname: string }>('select datname from pg_database order by 1')).map((r) => r.datname);
}

test('PG* variables point at A, --target at B: B is restored, A is untouched (row counts)', async () => {
  const before = await fingerprint(a, 'shop');
  await b.query('create database restored');
  const aDatabases = await databases(a);
  // Everything but the password in the URL; PGPORT/PGHOST/PGUSER/PGPASSWORD all name server A.
  const res = await runCli(
    ['restore', '--from', `file://${dir}`, '--database', 'shop', '--latest', '--target', b.superuserUrl('restored'), '--json'],
    a.env('postgres'),
  );
  assert.equal(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout) as { destination: { host: string; port: number; database: string; user: string } };
  assert.deepEqual(report.destination, { host: '127.0.0.1', port: b.port, database: 'restored', user: b.user });
  const restored = await fingerprint(b, 'restored');
  assert.deepEqual(restored, before, 'B holds exactly what A had');
  assert.deepEqual(await databases(a), aDatabases, 'no database appeared on A');
  assert.deepEqual(await fingerprint(a, 'shop'), before, 'A is unchanged');
  const counts = await b.query<{ n: string }>('select count(*)::text as n from shop.customers', 'restored');
  assert.equal(counts[0]?.n, '300');
});

test('a --target without a host is refused (exit 2) even when PGHOST is set; the human output names the destination', async () => {
  const refused = await runCli(
    ['restore', '--from', `file://${dir}`, '--database', 'shop', '--latest', '--target', 'dbname=postgres'],
    a.env('postgres'),
  );
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /--target.*names no host/);
  await b.query('create database restored_human');
  const ok = await runCli(
    ['restore', '--from', `file://${dir}`, '--database', 'shop', '--latest', '--target', b.superuserUrl('restored_human')],
    a.env('postgres'),
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, new RegExp(`destination: host=127\\.0\\.0\\.1 port=${b.port} database=restored_human user=${b.user}`));
});
