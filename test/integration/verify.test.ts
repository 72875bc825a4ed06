// verify with real parts: backups from PostgreSQL 13–18 (PG_MATRIX=15,18 narrows it locally) restored into throwaway
// embedded servers of the same major, compared with the manifest; the result lands next to the backup and
// `list` shows it. A manifest whose row count was altered must fail verification (exit 1).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runCli } from '../support/cli.ts';
import { seedShop } from '../support/dataset.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { MATRIX_CONCURRENCY, startPostgres, testMajors, type PgServer } from '../support/postgres.ts';

let moto: MotoServer;
before(async () => {
  moto = await startMoto();
});
after(async () => {
  await moto?.stop();
});

async function getText(bucket: string, key: string): Promise<string> {
  const r = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToString();
}

async function putText(bucket: string, key: string, body: string | Buffer): Promise<void> {
  await moto.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

type VerifyJson = {
  ok: boolean;
  mode: string;
  summary: string;
  mismatches: string[];
  notes: string[];
  server: { version: string; kind: string; note: string } | null;
  checks: { sha256: boolean; toc: boolean | null; restore: boolean | null; tables: number | null; rowCounts: boolean | null };
  recordKey: string | null;
};

describe('backups of every supported major, and corruption and scratch targets', { concurrency: MATRIX_CONCURRENCY }, () => {
  for (const major of testMajors()) {
    describe(`backup of PostgreSQL ${major}`, { concurrency: 1 }, () => {
      let pg: PgServer;
      let bucket: string;
      let manifestKey: string;
      let dataKey: string;
      before(async () => {
        pg = await startPostgres({ major });
        bucket = await moto.createBucket();
        await pg.query('create role shop_owner nologin');
        await seedShop(pg, 'shop', 500);
        await pg.query('alter table shop.orders owner to shop_owner', 'shop');
        // Unlogged and partitioned tables count too; a table with RLS must still be counted completely.
        await pg.query(
          `create unlogged table public.scratch (v int); insert into public.scratch select generate_series(1, 7);
           create table public.events (id int, at date) partition by range (at);
           create table public.events_2026 partition of public.events for values from ('2026-01-01') to ('2027-01-01');
           insert into public.events select i, date '2026-01-01' + i from generate_series(0, 99) i;
           create table public.secret (v int); insert into public.secret select generate_series(1, 5);
           alter table public.secret enable row level security; alter table public.secret force row level security;`,
          'shop',
        );
        const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'shop', '--globals', '--row-counts', '--json'], {
          ...pg.env('postgres'),
          ...moto.env(),
        });
        assert.equal(res.code, 0, res.stderr);
        const r = (JSON.parse(res.stdout) as { results: { database: string | null; key: string; manifestKey: string }[] }).results.find(
          (x) => x.database === 'shop',
        )!;
        manifestKey = r.manifestKey;
        dataKey = r.key;
      });
      after(async () => {
        await pg?.stop();
      });

      test('restores into a throwaway server of the same major; exact row counts match; list shows it', async () => {
        const res = await runCli(['verify', '--from', `s3://${bucket}/p`, '--database', 'shop', '--latest', '--json'], moto.env());
        assert.equal(res.code, 0, res.stderr + res.stdout);
        const v = JSON.parse(res.stdout) as VerifyJson;
        assert.equal(v.ok, true, v.summary);
        assert.equal(v.mode, 'restore');
        assert.equal(v.server?.kind, 'embedded');
        assert.equal(Number(v.server?.version.split('.')[0]), major);
        assert.deepEqual(v.checks, { sha256: true, toc: true, restore: true, tables: 6, rowCounts: true });
        assert.match(v.summary, /exact row counts match \(2112 rows\)/);
        assert.match(v.notes.join('\n'), /roles from globals backup .* created by name \(no attributes, no login\)/);
        const record = JSON.parse(await getText(bucket, v.recordKey!)) as { ok: boolean; mode: string; schema: string };
        assert.equal(record.ok, true);
        assert.equal(record.schema, 'rds-s3-backup/verify@2');
        const list = await runCli(['list', '--from', `s3://${bucket}/p`, '--database', 'shop'], moto.env());
        assert.match(list.stdout, /verified ✓ at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(restore\)/);
      });

      test('--integrity-only checks SHA-256 and the TOC without a server', async () => {
        const res = await runCli(['verify', '--from', `s3://${bucket}/p`, '--key', dataKey, '--integrity-only', '--json'], moto.env());
        assert.equal(res.code, 0, res.stderr);
        const v = JSON.parse(res.stdout) as VerifyJson;
        assert.deepEqual(v.checks, { sha256: true, toc: true, restore: null, tables: 6, rowCounts: null });
        assert.equal(v.server, null);
      });

      test('a manifest whose row count was altered fails verification (exit 1), recorded as failed', async () => {
        const original = await getText(bucket, manifestKey);
        const m = JSON.parse(original) as { rowCounts: { tables: Record<string, number> } };
        m.rowCounts.tables['shop.customers'] = m.rowCounts.tables['shop.customers']! + 1;
        await putText(bucket, manifestKey, JSON.stringify(m, null, 2));
        try {
          const res = await runCli(['verify', '--from', `s3://${bucket}/p`, '--database', 'shop', '--latest'], moto.env());
          assert.equal(res.code, 1, res.stdout + res.stderr);
          assert.match(res.stdout, /verify FAILED ✗/);
          assert.match(res.stdout, /✗ shop\.customers: 501 rows at backup time, 500 after restore/);
          const list = await runCli(['list', '--from', `s3://${bucket}/p`, '--database', 'shop', '--json'], moto.env());
          const entry = (JSON.parse(list.stdout) as { backups: { verification: { ok: boolean; summary: string } | null }[] }).backups[0]!;
          assert.equal(entry.verification?.ok, false);
          assert.match(entry.verification!.summary, /^FAILED: shop\.customers: 501 rows/);
        } finally {
          await putText(bucket, manifestKey, original);
        }
      });
    });
  }

  describe('corruption and scratch targets', { concurrency: 1 }, () => {
    let pg: PgServer;
    let bucket: string;
    before(async () => {
      pg = await startPostgres({ major: 18 });
      bucket = await moto.createBucket();
      await seedShop(pg, 'shop', 300);
    });
    after(async () => {
      await pg?.stop();
    });

    test('a flipped byte fails --integrity-only and the full verify alike', async () => {
      const res = await runCli(['backup', '--to', `s3://${bucket}/c`, '--databases', 'shop', '--compress', 'none', '--json'], {
        ...pg.env('postgres'),
        ...moto.env(),
      });
      assert.equal(res.code, 0, res.stderr);
      const key = (JSON.parse(res.stdout) as { results: { key: string }[] }).results[0]!.key;
      const r = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const body = Buffer.from(await r.Body!.transformToByteArray());
      const at = body.indexOf('user42@example.com');
      body[at + 4] = '7'.charCodeAt(0);
      await putText(bucket, key, body);
      for (const extra of [['--integrity-only'], []]) {
        const v = await runCli(['verify', '--from', `s3://${bucket}/c`, '--database', 'shop', '--latest', '--json', ...extra], moto.env());
        assert.equal(v.code, 1, v.stderr);
        const out = JSON.parse(v.stdout) as VerifyJson;
        assert.equal(out.ok, false);
        assert.equal(out.checks.sha256, false);
        assert.match(out.mismatches[0]!, /does not match its manifest: SHA-256/);
      }
    });

    test('--target: a user scratch server gets a temporary database, dropped afterwards; no row counts ⇒ said so', async () => {
      const res = await runCli(['backup', '--to', `s3://${bucket}/t`, '--databases', 'shop', '-q'], {
        ...pg.env('postgres'),
        ...moto.env(),
      });
      assert.equal(res.code, 0, res.stderr);
      const e = pg.env('postgres');
      const v = await runCli(
        [
          'verify',
          '--from',
          `s3://${bucket}/t`,
          '--database',
          'shop',
          '--latest',
          '--target',
          `host=127.0.0.1 port=${e.PGPORT} user=${e.PGUSER} dbname=postgres`,
          '--no-record',
          '--json',
        ],
        {
          ...moto.env(),
          PGPASSWORD: e.PGPASSWORD!,
        },
      );
      assert.equal(v.code, 0, v.stderr);
      const out = JSON.parse(v.stdout) as VerifyJson;
      assert.equal(out.server?.kind, 'target');
      assert.equal(out.checks.rowCounts, null);
      assert.match(out.notes.join('\n'), /no row counts \(taken without --row-counts\)/);
      assert.equal(out.recordKey, null);
      const left = await pg.query("select datname from pg_database where datname like 'rds_s3_backup_verify_%'");
      assert.deepEqual(left, []);
    });
  });
});
