// The container image, built from the current sources and run with a real container runtime (podman + runc),
// root file system read-only, as the unprivileged image user: real PostgreSQL with TLS, moto for S3, Secrets
// Manager and CloudWatch, credentials from a container-credentials endpoint as on ECS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { buildImages, cleanupImages, loadImage, runContainerToEnd, startContainer, type BuiltImages } from '../support/container.ts';
import { fingerprint, seedShop } from '../support/dataset.ts';
import { faults, startFaultProxy } from '../support/fault-proxy.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';
import { systemStdbufCandidates } from '../../src/postgres/dump-buffer.ts';
import { packageBundleDir } from '../../src/postgres/tools.ts';

const PASSWORD = 'Kx7-container-PASSWORD-3341';
const CA_IN_CONTAINER = '/certs/ca.pem';

let built: BuiltImages | undefined;
let backupImage: string | undefined;
let verifyImage: string | undefined;
let pg: PgServer;
let moto: MotoServer;
let creds: { server: Server; url: string; requests: number };
let goodSecret = '';
let wrongSecret = '';

/** An ECS-style container credentials endpoint (what the agent serves at AWS_CONTAINER_CREDENTIALS_RELATIVE_URI). */
async function credentialsEndpoint(): Promise<typeof creds> {
  const state = { requests: 0 };
  const server = createServer((_req, res) => {
    state.requests++;
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        AccessKeyId: 'ASIATASKROLE',
        SecretAccessKey: 'task-role-secret',
        Token: 'task-role-token',
        Expiration: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return Object.defineProperty({ server, url: `http://127.0.0.1:${port}/v2/credentials/task`, requests: 0 }, 'requests', {
    get: () => state.requests,
  });
}

/**
 * A CloudWatch endpoint that records PutMetricData calls. moto 5.1 answers CloudWatch only in the query protocol,
 * and SDK v3 now speaks JSON 1.0 to CloudWatch; this records the real SDK's signed request instead.
 */
type MetricCall = {
  namespace: string;
  data: { MetricName: string; Dimensions?: { Name: string; Value: string }[]; Value?: number; Unit?: string }[];
};
async function cloudWatchRecorder(): Promise<{ server: Server; url: string; calls: MetricCall[] }> {
  const calls: MetricCall[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (
        String(req.headers['x-amz-target']).endsWith('.PutMetricData') &&
        /^AWS4-HMAC-SHA256 Credential=ASIATASKROLE\//.test(String(req.headers.authorization))
      ) {
        const parsed = JSON.parse(body) as { Namespace: string; MetricData: MetricCall['data'] };
        calls.push({ namespace: parsed.Namespace, data: parsed.MetricData });
        res.setHeader('content-type', 'application/x-amz-json-1.0');
        res.end('{}');
      } else {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'InvalidAction', message: `unexpected ${String(req.headers['x-amz-target'])}` }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, calls };
}
let cloudwatch: Awaited<ReturnType<typeof cloudWatchRecorder>>;

/** The task's environment: no access keys (the task role's credentials come from the endpoint). */
function taskEnv(bucket: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: moto.region,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: creds.url,
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudwatch.url,
    RDS_S3_BACKUP_TO: `s3://${bucket}/prod`,
    RDS_S3_BACKUP_DATABASES: 'shop',
    RDS_S3_BACKUP_SECRET_ID: goodSecret,
    RDS_S3_BACKUP_ROW_COUNTS: 'true',
    PGSSLMODE: 'verify-full',
    PGSSLROOTCERT: CA_IN_CONTAINER,
    ...extra,
  };
}

const mounts = (): Record<string, string> => ({ [pg.caFile!]: CA_IN_CONTAINER });

function messages(logs: readonly Record<string, unknown>[]): string[] {
  return logs.map((l) => String(l.message));
}

describe('the container image under podman', { timeout: 900_000 }, () => {
  before(async () => {
    const t0 = performance.now();
    built = buildImages();
    backupImage = loadImage(built.backup);
    verifyImage = loadImage(built.verify);
    console.log(
      `# images built and loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${built.manifest.images.map((i) => `${i.file} ${(i.compressedBytes / 1e6).toFixed(1)} MB`).join(', ')}`,
    );
    [pg, moto, creds, cloudwatch] = await Promise.all([
      startPostgres({ major: 18, ssl: true, password: PASSWORD }),
      startMoto(),
      credentialsEndpoint(),
      cloudWatchRecorder(),
    ]);
    await seedShop(pg, 'shop');
    const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    const secret = (password: string): string =>
      JSON.stringify({ engine: 'postgres', username: pg.user, password, host: 'localhost', port: pg.port, dbname: 'postgres' });
    goodSecret = (await secrets.send(new CreateSecretCommand({ Name: 'rds!db-container-good', SecretString: secret(PASSWORD) }))).ARN!;
    wrongSecret = (
      await secrets.send(new CreateSecretCommand({ Name: 'rds!db-container-wrong', SecretString: secret('not-the-password') }))
    ).ARN!;
    secrets.destroy();
  });

  after(async () => {
    creds?.server.close();
    cloudwatch?.server.close();
    await Promise.all([pg?.stop(), moto?.stop()]);
    cleanupImages(built, [backupImage, verifyImage]);
  });

  test('the build is reproducible and within the size budget', async () => {
    // The backup image only: the verify image is the same layers plus one staged the same way.
    const again = buildImages('backup');
    try {
      const digests = (b: BuiltImages) =>
        Object.fromEntries(b.manifest.images.filter((i) => i.variant === 'backup').map((i) => [i.file, i.manifestDigest]));
      assert.deepEqual(digests(again), digests(built!), 'same inputs, same digests');
      const bytes = (file: string) =>
        createHash('sha256')
          .update(spawnSync('cat', [file], { maxBuffer: 1 << 30 }).stdout)
          .digest('hex');
      assert.equal(bytes(again.backup), bytes(built!.backup), 'the archive files are byte-identical too');
      const backup = built!.manifest.images.find((i) => i.variant === 'backup')!;
      assert.ok(backup.compressedBytes < 70_000_000, `backup image ${backup.compressedBytes} bytes`);
    } finally {
      cleanupImages(again, []);
    }
  });

  test('--version runs as the unprivileged image user on a read-only root', async () => {
    const r = await runContainerToEnd(backupImage!, ['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^rds-s3-backup \d+\.\d+\.\d+ \(container; node v24\.\d+\.\d+, linux-(x64|arm64)\)$/m);
    const id = await runContainerToEnd(backupImage!, ['--version'], { extraArgs: ['--entrypoint', '/usr/local/bin/node'] });
    // With the entrypoint replaced, "--version" goes to node itself: the image's Node 24.
    assert.match(id.stdout, /^v24\./);
  });

  test("the image's pg_dump runs with libstdbuf preloaded where dump-buffer.ts looks for it (256 KiB stdout blocks)", async () => {
    const [lib] = systemStdbufCandidates(process.arch);
    // pg_dump waits on a server that accepts and never answers, so its mappings can be read while it runs.
    const script = `
      const net = require('node:net'), cp = require('node:child_process'), fs = require('node:fs');
      const lib = process.argv[1];
      const server = net.createServer(() => {}).listen(0, '127.0.0.1', () => {
        const p = cp.spawn('/opt/pgtools/bin/pg_dump', ['-h', '127.0.0.1', '-p', String(server.address().port), '-U', 'u', '-d', 'd'],
          { env: { LD_PRELOAD: lib, _STDBUF_O: '262144' }, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (c) => (err += c));
        setTimeout(() => {
          const maps = fs.readFileSync('/proc/' + p.pid + '/maps', 'utf8');
          console.log(JSON.stringify({ exists: fs.existsSync(lib), mapped: maps.includes(lib), stderr: err }));
          p.kill();
          server.close();
        }, 1000);
      });`;
    const r = await runContainerToEnd(backupImage!, ['-e', script, lib!], { extraArgs: ['--entrypoint', '/usr/local/bin/node'] });
    assert.equal(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { exists: boolean; mapped: boolean; stderr: string };
    assert.deepEqual(seen, { exists: true, mapped: true, stderr: '' }, `${lib} in the image`);
  });

  test('backup: lands in S3 with its manifest, restores with pg_restore; task-role credentials, TLS verify-full, metrics by PutMetricData', async () => {
    const bucket = await moto.createBucket();
    const before = creds.requests;
    const r = await runContainerToEnd(backupImage!, [], { env: taskEnv(bucket), mounts: mounts() });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(creds.requests > before, 'the SDK took its credentials from the container credentials endpoint');
    const done = r.logs.find((l) => l.message === 'backup done')!;
    assert.ok(done, messages(r.logs).join('\n'));
    assert.equal(done.level, 'INFO');
    assert.equal(done.service, 'rds-s3-backup');
    const finished = r.logs.at(-1)!;
    assert.equal(finished.message, 'backup finished');
    assert.equal(finished.exitCode, 0);
    assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), 'the password never reaches the logs');
    assert.ok(!r.stdout.includes('"_aws"'), 'no EMF on stdout (metrics go through PutMetricData)');

    const s3 = moto.s3();
    const get = async (key: string): Promise<Buffer> =>
      Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    const manifest = JSON.parse((await get(String(done.manifestKey))).toString()) as {
      object: { key: string; sha256: string; bytes: number };
      toc: { tables: string[] };
    };
    const dump = await get(manifest.object.key);
    assert.equal(dump.length, manifest.object.bytes);
    assert.equal(createHash('sha256').update(dump).digest('hex'), manifest.object.sha256);
    assert.deepEqual(manifest.toc.tables, ['shop.customers', 'shop.orders']);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-container-'));
    try {
      await writeFile(path.join(dir, 'shop.dump'), dump);
      await pg.query('create database shop_restored');
      const res = spawnSync(
        path.join(packageBundleDir(), 'bin', 'pg_restore'),
        ['--no-owner', '--exit-on-error', '-d', 'shop_restored', path.join(dir, 'shop.dump')],
        { env: pg.env('shop_restored'), encoding: 'utf8' },
      );
      assert.equal(res.status, 0, res.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.deepEqual(await fingerprint(pg, 'shop_restored'), await fingerprint(pg, 'shop'));

    // Metrics: the same names and dimensions as the Lambda's EMF, sent with PutMetricData under the task role.
    const sent = cloudwatch.calls.splice(0).flatMap((c) =>
      c.data.map((d) => ({
        ns: c.namespace,
        name: d.MetricName,
        dims: (d.Dimensions ?? [])
          .map((x) => `${x.Name}=${x.Value}`)
          .sort()
          .join(','),
        value: d.Value,
      })),
    );
    const one = (name: string, dims: string) => sent.find((m) => m.ns === 'RdsS3Backup' && m.name === name && m.dims === dims);
    assert.equal(one('BackupSucceeded', 'service=rds-s3-backup')?.value, 1, JSON.stringify(sent));
    assert.equal(one('DatabaseBackupSucceeded', 'database=shop,service=rds-s3-backup')?.value, 1, JSON.stringify(sent));
    assert.equal(one('BackupBytes', 'database=shop,service=rds-s3-backup')?.value, manifest.object.bytes);
  });

  test('SIGTERM mid-upload (StopTask): exit 143 within the stop timeout, the multipart upload aborted, nothing stored', async () => {
    await pg.query('create database big');
    // ~24 MiB of incompressible rows: five 5 MiB parts, each held back by the proxy.
    await pg.query(
      "create table blob (id int, data bytea); insert into blob select g, decode((select string_agg(md5(random()::text || g::text || s::text), '') from generate_series(1, 64) s), 'hex') from generate_series(1, 24 * 1024) g",
      'big',
    );
    const bucket = await moto.createBucket();
    const proxy = await startFaultProxy(moto.endpoint, faults.onOp('UploadPart', { kind: 'delay', ms: 3000 }));
    try {
      const run = startContainer(backupImage!, ['backup'], {
        env: taskEnv(bucket, {
          AWS_ENDPOINT_URL_S3: proxy.endpoint,
          RDS_S3_BACKUP_DATABASES: 'big',
          RDS_S3_BACKUP_PART_SIZE_MB: '5',
          RDS_S3_BACKUP_COMPRESS: 'none',
        }),
        mounts: mounts(),
      });
      await proxy.waitFor((e) => e.op === 'UploadPart', 120_000);
      const stoppedAt = Date.now();
      run.kill('SIGTERM');
      const r = await run.result;
      const stopMs = Date.now() - stoppedAt;
      assert.equal(r.code, 143, `${r.stdout}\n${r.stderr}`);
      assert.ok(stopMs < 30_000, `stopped ${stopMs} ms after SIGTERM (ECS kills at 30 s)`);
      const failed = r.logs.find((l) => l.message === 'backup failed' && l.exitCode === 143)!;
      assert.ok(failed, messages(r.logs).join('\n'));
      assert.equal(failed.signal, 'SIGTERM');
      assert.match(String((failed.error as { message: string }).message), /stopped by SIGTERM/);
      assert.deepEqual(await moto.listMultipartUploads(bucket), [], 'no multipart upload left open');
      assert.deepEqual(await moto.listKeys(bucket), [], 'no object, no manifest');
      console.log(`# SIGTERM → exit in ${stopMs} ms`);
    } finally {
      await proxy.stop();
    }
  });

  test('a wrong password: a clear error naming the cause, exit 1, nothing stored', async () => {
    const bucket = await moto.createBucket();
    const r = await runContainerToEnd(backupImage!, ['backup'], {
      env: taskEnv(bucket, { RDS_S3_BACKUP_SECRET_ID: wrongSecret }),
      mounts: mounts(),
    });
    assert.equal(r.code, 1, r.stdout);
    const failed = r.logs.find((l) => l.message === 'backup failed' && 'exitCode' in l)!;
    assert.ok(failed, messages(r.logs).join('\n'));
    assert.match(JSON.stringify(failed.error), /password authentication failed/);
    assert.ok(!r.stdout.includes('not-the-password'), 'the wrong password is not echoed either');
    assert.deepEqual(await moto.listKeys(bucket), []);
  });

  test('an invalid environment: exit 2 and every bad variable named', async () => {
    const r = await runContainerToEnd(backupImage!, [], {
      env: { RDS_S3_BACKUP_TO: 'ftp://nope', PGPASSWORD: 'x', AWS_REGION: 'us-east-1' },
    });
    assert.equal(r.code, 2, r.stdout);
    const failed = r.logs.find((l) => l.message === 'backup failed')!;
    const fields = (failed.issues as { field: string }[]).map((i) => i.field);
    assert.ok(fields.includes('RDS_S3_BACKUP_TO') && fields.includes('PGPASSWORD'), fields.join(', '));
  });

  test('the restore drill (verify image): newest backup restored in a throwaway server inside the container, exact row counts, record written', async () => {
    const bucket = await moto.createBucket();
    const backup = await runContainerToEnd(backupImage!, [], { env: taskEnv(bucket), mounts: mounts() });
    assert.equal(backup.code, 0, backup.stdout);
    cloudwatch.calls.splice(0);
    // The drill's task needs no database credentials at all.
    const r = await runContainerToEnd(verifyImage!, [], {
      env: {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_ENDPOINT_URL_CLOUDWATCH: cloudwatch.url,
        AWS_REGION: moto.region,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: creds.url,
        // No RDS_S3_BACKUP_DATABASES: every database with a complete backup in the bucket.
        RDS_S3_BACKUP_FROM: `s3://${bucket}/prod`,
      },
    });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(r.logs.find((l) => l.message === 'databases with backups')?.databases, ['shop']);
    const ok = r.logs.find((l) => l.message === 'verify succeeded')!;
    assert.ok(ok, messages(r.logs).join('\n'));
    assert.match(String(ok.summary), /rows/);
    const keys = await moto.listKeys(bucket);
    assert.ok(
      keys.some((k) => k.endsWith('.verify.json')),
      keys.join('\n'),
    );
    const record = keys.find((k) => k.endsWith('.verify.json'))!;
    const s3 = moto.s3();
    const body = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: record }))).Body!.transformToString()) as {
      ok: boolean;
      mode: string;
    };
    assert.equal(body.ok, true);
    assert.equal(body.mode, 'restore');
    const sent = cloudwatch.calls.splice(0).flatMap((c) =>
      c.data.map(
        (d) =>
          `${d.MetricName}{${(d.Dimensions ?? [])
            .map((x) => `${x.Name}=${x.Value}`)
            .sort()
            .join(',')}}=${d.Value}`,
      ),
    );
    assert.ok(sent.includes('VerifySucceeded{service=rds-s3-backup}=1'), sent.join('\n'));
    assert.ok(sent.includes('DatabaseVerifySucceeded{database=shop,service=rds-s3-backup}=1'), sent.join('\n'));
  });
});
