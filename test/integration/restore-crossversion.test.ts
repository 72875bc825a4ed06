// A PostgreSQL 18 backup (pg_dump 18) restored into servers 13 and 16: pg_restore ≥ 17 writes
// `SET transaction_timeout = 0`, which servers < 17 reject. Streaming restores remove exactly that statement;
// parallel ones tolerate exactly that error. Also: globals first, then the database with --create.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.ts';
import { fingerprint, seedShop } from '../support/dataset.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgMajor, type PgServer } from '../support/postgres.ts';

let moto: MotoServer;
let source: PgServer;
let bucket: string;
let expected: Record<string, string>;

before(async () => {
  [moto, source] = await Promise.all([startMoto(), startPostgres({ major: 18 })]);
  bucket = await moto.createBucket();
  await source.query('create role shop_owner nologin');
  await seedShop(source, 'shop', 500);
  await source.query(
    "alter schema shop owner to shop_owner; alter table shop.customers owner to shop_owner; comment on database shop is 'the shop'",
    'shop',
  );
  expected = await fingerprint(source, 'shop');
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'shop', '--globals', '--row-counts', '-q'], {
    ...source.env('postgres'),
    ...moto.env(),
  });
  assert.equal(res.code, 0, res.stderr);
});
after(async () => {
  await Promise.all([moto?.stop(), source?.stop()]);
});

for (const major of [13, 16] as PgMajor[]) {
  describe(`into PostgreSQL ${major}`, () => {
    let pg: PgServer;
    const env = (): Record<string, string> => ({ ...moto.env(), ...pg.env('postgres') });
    before(async () => {
      pg = await startPostgres({ major });
    });
    after(async () => {
      await pg?.stop();
    });

    test('globals first, then the database with --create, in one transaction', async () => {
      const res = await runCli(
        [
          'restore',
          '--from',
          `s3://${bucket}/p`,
          '--database',
          'shop',
          '--latest',
          '--globals',
          '--create',
          '--target',
          'host=127.0.0.1 dbname=postgres',
          '--json',
        ],
        env(),
      );
      assert.equal(res.code, 0, res.stderr);
      const report = JSON.parse(res.stdout) as {
        globals: { report: { expectedErrors: string[] } };
        database: { created: boolean; database: string; mode: string; tool: { filtered: string[] } };
      };
      assert.deepEqual(report.globals.report.expectedErrors, ['ERROR:  role "postgres" already exists']);
      assert.equal(report.database.created, true);
      assert.equal(report.database.database, 'shop');
      assert.equal(report.database.mode, 'single-transaction');
      const filtered = report.database.tool.filtered.join('\n');
      assert.match(filtered, /^SET transaction_timeout \(x1\): the target server is older than PostgreSQL 17$/m, 'the restore script');
      assert.match(filtered, /SET transaction_timeout \(x2\).*\(--create\)/, 'the --create script (before and after \\connect)');
      if (major < 15) assert.match(filtered, /LOCALE_PROVIDER = libc/);
      assert.deepEqual(await fingerprint(pg, 'shop'), expected);
      const [owner] = await pg.query<{ o: string }>(
        "select pg_get_userbyid(nspowner) as o from pg_namespace where nspname = 'shop'",
        'shop',
      );
      assert.equal(owner!.o, 'shop_owner', 'owned by the role the globals created');
      const [comment] = await pg.query<{ c: string }>(
        "select shobj_description(oid, 'pg_database') as c from pg_database where datname = 'shop'",
      );
      assert.equal(comment!.c, 'the shop', "the archive's own DATABASE entries were used");

      const again = await runCli(
        [
          'restore',
          '--from',
          `s3://${bucket}/p`,
          '--database',
          'shop',
          '--latest',
          '--create',
          '--target',
          'host=127.0.0.1 dbname=postgres',
        ],
        env(),
      );
      assert.equal(again.code, 1);
      assert.match(again.stderr, /database "shop" already exists/);
    });

    test('--jobs 2 tolerates exactly the transaction_timeout errors', async () => {
      await pg.query('create database shop_par');
      const res = await runCli(
        [
          'restore',
          '--from',
          `s3://${bucket}/p`,
          '--database',
          'shop',
          '--latest',
          '--jobs',
          '2',
          '--no-owner',
          '--target',
          'host=127.0.0.1 dbname=shop_par',
          '--json',
        ],
        env(),
      );
      assert.equal(res.code, 0, res.stderr);
      const report = JSON.parse(res.stdout) as { database: { tool: { toleratedErrors: number; notes: string[] } } };
      assert.ok(report.database.tool.toleratedErrors >= 1);
      assert.match(report.database.tool.notes.join(), /transaction_timeout/);
      assert.deepEqual(await fingerprint(pg, 'shop_par'), expected);
    });

    test('--jobs still fails on any other error', async () => {
      await pg.query('create database shop_par2');
      // A real conflict: the tolerance is for the one known error only.
      await pg.query('create schema shop', 'shop_par2');
      const res = await runCli(
        [
          'restore',
          '--from',
          `s3://${bucket}/p`,
          '--database',
          'shop',
          '--latest',
          '--jobs',
          '2',
          '--target',
          'host=127.0.0.1 dbname=shop_par2',
        ],
        env(),
      );
      assert.equal(res.code, 1);
      assert.match(res.stderr, /pg_restore exited with code 1/);
      assert.match(res.stderr, /schema "shop" already exists/);
    });
  });
}
