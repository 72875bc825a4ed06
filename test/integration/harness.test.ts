// Smoke test of the test harness itself: throwaway PostgreSQL servers and the moto S3 server.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import pg from 'pg';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';
import { pidAlive } from '../support/process.ts';
import { createCa } from '../support/tls.ts';

const MiB = 1024 * 1024;

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...config });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return client;
}

describe('PostgreSQL harness', () => {
  let otherCaDir: string;
  let otherCaPem: string;
  before(async () => {
    otherCaDir = await mkdtemp(path.join(os.tmpdir(), 'harness-other-ca-'));
    otherCaPem = await readFile((await createCa(otherCaDir, 'unrelated CA')).certFile, 'utf8');
  });
  after(async () => {
    await rm(otherCaDir, { recursive: true, force: true });
  });

  for (const major of [15, 18] as const) {
    describe(`PostgreSQL ${major} with TLS`, () => {
      let server: PgServer;
      before(async () => {
        server = await startPostgres({ major, ssl: true });
        console.log(`# PostgreSQL ${major} (${server.serverVersion}) started in ${server.startupMs} ms`);
      });
      after(async () => {
        await server?.stop();
      });

      it('is the requested major', async () => {
        const [row] = await server.query<{ version: string }>('select version()');
        assert.ok(row);
        assert.match(row.version, new RegExp(`^PostgreSQL ${major}\\.\\d+ `));
        assert.equal(server.version, row.version);
        assert.equal(server.major, major);
        assert.match(server.serverVersion, new RegExp(`^${major}\\.`));
      });

      it('accepts sslmode=verify-full with its CA (CN/SAN localhost and 127.0.0.1)', async () => {
        for (const host of ['127.0.0.1', 'localhost']) {
          const url = new URL(server.superuserUrl());
          url.hostname = host;
          assert.equal(url.searchParams.get('sslmode'), 'verify-full');
          const client = await connect({ connectionString: url.toString() });
          try {
            const { rows } = await client.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
            assert.deepEqual(rows, [{ ssl: true }]);
          } finally {
            await client.end();
          }
        }
      });

      it('fails verification against another CA', async () => {
        await assert.rejects(
          connect({
            host: server.host,
            port: server.port,
            user: server.user,
            password: server.password,
            database: 'postgres',
            ssl: { ca: otherCaPem },
          }),
          (error: Error & { code?: string }) => {
            assert.match(`${error.code} ${error.message}`, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY|unable to verify|self.signed/i);
            return true;
          },
        );
      });

      it('enforces the password (scram-sha-256)', async () => {
        await assert.rejects(
          connect({ host: server.host, port: server.port, user: server.user, password: 'wrong', database: 'postgres' }),
          /password authentication failed/,
        );
        const [row] = await server.query<{ method: string }>(
          `select auth_method as method from pg_hba_file_rules where address = '127.0.0.1'`,
        );
        assert.equal(row?.method, 'scram-sha-256');
      });

      it('exposes libpq-style env', () => {
        const env = server.env('postgres');
        assert.deepEqual(Object.keys(env).sort(), ['PGDATABASE', 'PGHOST', 'PGPASSWORD', 'PGPORT', 'PGSSLMODE', 'PGSSLROOTCERT', 'PGUSER']);
        assert.equal(env['PGPORT'], String(server.port));
        assert.equal(env['PGSSLROOTCERT'], server.caFile);
      });
    });
  }

  it('honours user, password, settings and requireSsl; stop() removes everything', async () => {
    const password = `p@ss w:rd/'"${Date.now()}`;
    const server = await startPostgres({ major: 18, user: 'backup_admin', password, requireSsl: true, settings: { work_mem: '7MB' } });
    console.log(`# PostgreSQL 18 (custom user, requireSsl) started in ${server.startupMs} ms`);
    let stopped = false;
    try {
      const [row] = await server.query<{ user: string; work_mem: string }>(
        'select current_user as user, current_setting($1) as work_mem',
        'postgres',
        ['work_mem'],
      );
      assert.deepEqual(row, { user: 'backup_admin', work_mem: '7MB' });
      const client = await connect({ connectionString: server.superuserUrl() });
      await client.end();
      await assert.rejects(
        connect({ host: server.host, port: server.port, user: server.user, password, database: 'postgres', ssl: false }),
        /no encryption|pg_hba\.conf rejects/,
      );
      const pidFile = path.join(server.dataDir, 'postmaster.pid');
      const postmaster = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
      assert.ok(pidAlive(postmaster));
      await server.stop();
      stopped = true;
      assert.equal(pidAlive(postmaster), false);
      assert.equal(existsSync(server.dataDir), false);
    } finally {
      if (!stopped) await server.stop();
    }
  });
});

describe('moto harness', () => {
  let moto: MotoServer;
  before(async () => {
    moto = await startMoto();
    console.log(`# moto started in ${moto.startupMs} ms`);
  });
  after(async () => {
    await moto?.stop();
  });

  it('round-trips a 20 MiB stream through a 5 MiB-part multipart upload', async () => {
    const bucket = await moto.createBucket();
    const sent = createHash('sha256');
    async function* source(): AsyncGenerator<Buffer> {
      // Deterministic, incompressible, and not aligned to part boundaries.
      let block = createHash('sha256').update('seed').digest();
      let produced = 0;
      const total = 20 * MiB + 12345;
      while (produced < total) {
        const size = Math.min(300_001, total - produced);
        const chunk = Buffer.alloc(size);
        for (let offset = 0; offset < size; offset += block.length) {
          block = createHash('sha256').update(block).digest();
          block.copy(chunk, offset);
        }
        sent.update(chunk);
        produced += size;
        yield chunk;
      }
    }
    const upload = new Upload({
      client: moto.s3(),
      params: { Bucket: bucket, Key: 'backups/big.bin', Body: Readable.from(source()) },
      partSize: 5 * MiB,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const result = await upload.done();
    assert.match(result.ETag ?? '', /-5"$/, 'five parts: 4 × 5 MiB + the rest');

    const object = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: 'backups/big.bin' }));
    const received = createHash('sha256');
    let length = 0;
    for await (const chunk of object.Body as Readable) {
      received.update(chunk as Buffer);
      length += (chunk as Buffer).length;
    }
    assert.equal(length, 20 * MiB + 12345);
    assert.equal(received.digest('hex'), sent.digest('hex'));
    assert.deepEqual(await moto.listMultipartUploads(bucket), []);
    assert.deepEqual(await moto.listKeys(bucket), ['backups/big.bin']);
    assert.deepEqual(await moto.listKeys(bucket, 'other/'), []);
  });

  it('reset() forgets buckets', async () => {
    const bucket = await moto.createBucket();
    await moto.reset();
    await assert.rejects(moto.listKeys(bucket), { name: 'NoSuchBucket' });
  });

  it('enforces IAM when asked, with an admin that can create least-privilege users', async () => {
    const enforced = await startMoto({ iamEnforce: true });
    console.log(`# moto (IAM enforced) started in ${enforced.startupMs} ms`);
    try {
      const bucket = await enforced.createBucket();
      const writer = await enforced.createUser('writer', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/backups/*` }],
      });
      const asWriter = enforced.s3(writer);
      await asWriter.send(new PutObjectCommand({ Bucket: bucket, Key: 'backups/a.txt', Body: 'hello' }));
      await assert.rejects(asWriter.send(new PutObjectCommand({ Bucket: bucket, Key: 'elsewhere/a.txt', Body: 'x' })), {
        name: 'AccessDenied',
      });
      await assert.rejects(asWriter.send(new GetObjectCommand({ Bucket: bucket, Key: 'backups/a.txt' })), { name: 'AccessDenied' });
      await assert.rejects(
        enforced.s3({ accessKeyId: 'test', secretAccessKey: 'test' }).send(new GetObjectCommand({ Bucket: bucket, Key: 'backups/a.txt' })),
        { name: 'InvalidAccessKeyId' },
      );
      assert.deepEqual(await enforced.listKeys(bucket), ['backups/a.txt']);
      assert.equal(enforced.env(writer)['AWS_ACCESS_KEY_ID'], writer.accessKeyId);
    } finally {
      await enforced.stop();
    }
  });
});
