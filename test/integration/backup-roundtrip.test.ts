// Round trip with real parts: PostgreSQL (15 and 18 by default; PG_MATRIX=all for 13–18), the bundled
// pg_dump 18, the CLI as users run it, and moto as the S3 server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { runCli } from '../support/cli.ts';
import { fingerprint, seedShop } from '../support/dataset.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, testMajors, type PgServer } from '../support/postgres.ts';
import { packageBundleDir } from '../../src/postgres/tools.ts';

const PG_RESTORE = path.join(packageBundleDir(), 'bin', 'pg_restore');

let moto: MotoServer;
before(async () => {
  moto = await startMoto();
});
after(async () => {
  await moto?.stop();
});

async function getBytes(bucket: string, key: string): Promise<Buffer> {
  const r = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

for (const major of testMajors()) {
  describe(`PostgreSQL ${major}`, () => {
    let pg: PgServer;
    before(async () => {
      pg = await startPostgres({ major });
      await seedShop(pg, 'shop');
      await pg.query('create database "other db"');
      await pg.query('create role app_reader login; grant connect on database shop to app_reader');
    });
    after(async () => {
      await pg?.stop();
    });

    test('backup → object sha256 = manifest → pg_restore → same data', async () => {
      const bucket = await moto.createBucket();
      const res = await runCli(['backup', '--to', `s3://${bucket}/prod/pg`, '--databases', 'all', '--globals', '--json'], {
        ...pg.env('postgres'),
        ...moto.env(),
      });
      assert.equal(res.code, 0, res.stderr);
      const report = JSON.parse(res.stdout) as {
        ok: boolean;
        results: { database: string | null; ok: boolean; key: string; manifestKey: string; sha256: string }[];
      };
      assert.equal(report.ok, true);
      assert.deepEqual(
        report.results.map((r) => r.database).sort(),
        [null, 'other db', 'postgres', 'shop'].sort((a, b) => String(a).localeCompare(String(b))),
      );

      const shop = report.results.find((r) => r.database === 'shop')!;
      const manifest = JSON.parse((await getBytes(bucket, shop.manifestKey)).toString()) as {
        object: { key: string; sha256: string; bytes: number };
        server: { version: string };
        pgDump: { version: string };
        toc: { tables: string[] };
        compression: string;
        tier: string;
      };
      const dump = await getBytes(bucket, manifest.object.key);
      assert.equal(dump.length, manifest.object.bytes);
      assert.equal(createHash('sha256').update(dump).digest('hex'), manifest.object.sha256);
      assert.match(manifest.server.version, new RegExp(`^${major}\\.`));
      assert.match(manifest.pgDump.version, /^18\./);
      assert.deepEqual(manifest.toc.tables, ['shop.customers', 'shop.orders']);
      assert.equal(manifest.compression, 'zstd:1');
      assert.equal(manifest.tier, 'yearly');
      assert.match(manifest.object.key, /^prod\/pg\/shop\/\d{8}T\d{6}Z-[0-9a-f]{8}\.dump$/);

      // Metadata carries the tool version; the only tag is the tier, set in the upload (the checksum is in the manifest).
      const head = await moto.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: manifest.object.key }));
      assert.equal(
        head.Metadata?.['tool-version'],
        JSON.parse(
          execFileSync(process.execPath, ['-p', 'JSON.stringify(require("./package.json").version)'], {
            cwd: path.resolve(import.meta.dirname, '../..'),
          }).toString(),
        ),
      );
      const tags = await moto.s3().send(new GetObjectTaggingCommand({ Bucket: bucket, Key: manifest.object.key }));
      const tagMap = Object.fromEntries((tags.TagSet ?? []).map((t) => [t.Key, t.Value]));
      assert.deepEqual(tagMap, { 'backup-tier': 'yearly' });

      // Restore the fetched object with the real pg_restore into a fresh database and compare everything.
      const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-rt-'));
      try {
        const file = path.join(dir, 'shop.dump');
        await writeFile(file, dump);
        await pg.query('create database shop_restored');
        await pg.query('create schema if not exists public', 'shop_restored');
        const env = { ...pg.env('shop_restored') };
        // pg_restore 18 emits SET transaction_timeout, unknown before PostgreSQL 17: tolerated here and only that
        // (the restore command handles it for users).
        const r = spawnSync(PG_RESTORE, ['--no-owner', '-d', 'shop_restored', file], { env, encoding: 'utf8' });
        const otherErrors = r.stderr
          .split('\n')
          .filter((l) => /error/i.test(l) && !/transaction_timeout|errors ignored on restore: 1$/.test(l));
        assert.deepEqual(otherErrors, [], r.stderr);
        assert.ok(r.status === 0 || (major < 17 && r.status === 1), `pg_restore exited ${r.status}: ${r.stderr}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      assert.deepEqual(await fingerprint(pg, 'shop_restored'), await fingerprint(pg, 'shop'));

      // The globals object is SQL with our role in it, without password hashes.
      const globals = report.results.find((r) => r.database === null)!;
      const sql = (await getBytes(bucket, globals.key)).toString();
      assert.match(sql, /CREATE ROLE app_reader/);
      assert.doesNotMatch(sql, /SCRAM-SHA-256\$/);

      // list sees them as complete, newest first, and the JSON output says the same.
      const list = await runCli(['list', '--from', `s3://${bucket}/prod/pg`, '--json'], moto.env());
      assert.equal(list.code, 0, list.stderr);
      const listed = JSON.parse(list.stdout) as { backups: { database: string | null; status: string }[]; openUploads: unknown[] };
      assert.equal(listed.backups.length, 4);
      assert.ok(listed.backups.every((b) => b.status === 'complete'));
      assert.deepEqual(listed.openUploads, []);
      const human = await runCli(['list', '--from', `s3://${bucket}/prod/pg`, '--database', 'other db'], moto.env());
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /other db\s+complete/);
      assert.doesNotMatch(human.stdout, /\bshop\b/);
    });
  });
}

test('SSE-KMS: objects and manifests are encrypted with the given key', async () => {
  const { KMSClient, CreateKeyCommand } = await import('@aws-sdk/client-kms');
  const kms = new KMSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  const key = await kms.send(new CreateKeyCommand({ Description: 'rds-s3-backup test' }));
  const keyArn = key.KeyMetadata!.Arn!;
  const pg = await startPostgres({ major: 18 });
  try {
    const bucket = await moto.createBucket();
    const res = await runCli(['backup', '--to', `s3://${bucket}/enc`, '--kms-key-id', keyArn, '--json'], {
      ...pg.env('postgres'),
      ...moto.env(),
    });
    assert.equal(res.code, 0, res.stderr);
    const keys = await moto.listKeys(bucket);
    assert.equal(keys.length, 2);
    for (const k of keys) {
      const head = await moto.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: k }));
      assert.equal(head.ServerSideEncryption, 'aws:kms', k);
      assert.equal(head.SSEKMSKeyId, keyArn, k);
    }
    const manifest = JSON.parse((await getBytes(bucket, keys.find((k) => k.endsWith('.manifest.json'))!)).toString()) as {
      encryption: { kmsKeyId: string };
    };
    assert.equal(manifest.encryption.kmsKeyId, keyArn);
  } finally {
    await pg.stop();
  }
});

test('file:// target: same layout and manifest, fully offline', async () => {
  const pg = await startPostgres({ major: 18 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-file-'));
  try {
    await seedShop(pg, 'shop', 200);
    const res = await runCli(['backup', '--to', `file://${dir}/backups`, '--databases', 'shop', '--compress', 'lz4:1'], pg.env('postgres'));
    assert.equal(res.code, 0, res.stderr);
    const list = await runCli(['list', '--from', `file://${dir}/backups`, '--json'], {});
    const listed = JSON.parse(list.stdout) as { backups: { status: string; key: string; sha256: string }[] };
    assert.equal(listed.backups.length, 1);
    assert.equal(listed.backups[0]!.status, 'complete');
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(path.join(dir, 'backups', listed.backups[0]!.key));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), listed.backups[0]!.sha256);
    assert.match(listed.backups[0]!.key, /^shop\/\d{8}T\d{6}Z-[0-9a-f]{8}\.dump$/);
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
