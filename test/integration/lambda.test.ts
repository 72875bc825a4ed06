// The built Lambda artifact, invoked like Lambda would: dist/function.zip and the pg tools layer are unpacked to
// temp dirs (the layer's pgtools/ standing in for /opt/pgtools), and a separate Node 24 process imports index.mjs,
// fakes the context (getRemainingTimeInMillis, awsRequestId) and calls index.handler with a scheduled event,
// against a real PostgreSQL and moto (S3, Secrets Manager, RDS). Not covered here: a real Lambda / AL2023 host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DIST, ensureLambdaArtifacts, LAYER_ARCH } from '../support/dist.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PASSWORD = 'Zq9-lambda-DISTINCTIVE-pw-7f3c';
const WRONG_PASSWORD = 'Zq9-lambda-WRONG-pw-4b1e';
const SERVICE = 'rds-s3-backup-test';

// ---------------------------------------------------------------------------------------------- the runner
// Stands in for the Lambda runtime: import (cold init, measured), then invoke the handler once per spec entry.
// Results go to fd 3 so that stdout holds only what the function printed (logs, EMF).
const RUNNER = String.raw`
import { writeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import dns from 'node:dns';
import { pathToFileURL } from 'node:url';
const [indexFile, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
const out = (o) => writeSync(3, JSON.stringify(o) + '\n');
if (spec.dns) {
  // Test-only name resolution for RDS host names (the handler's pg client connects to a local fake server).
  const original = dns.lookup;
  dns.lookup = (host, options, callback) => {
    const cb = typeof options === 'function' ? options : callback;
    const opts = typeof options === 'function' ? {} : (typeof options === 'number' ? { family: options } : options ?? {});
    const to = Object.entries(spec.dns).find(([suffix]) => host.endsWith(suffix))?.[1];
    if (!to) return original(host, options, callback);
    process.nextTick(() => (opts.all ? cb(null, [{ address: to, family: 4 }]) : cb(null, to, 4)));
  };
}
const t0 = performance.now();
const mod = await import(pathToFileURL(indexFile).href);
out({ type: 'init', ms: performance.now() - t0 });
let failed = false;
for (const inv of spec.invocations) {
  const deadline = Date.now() + inv.timeoutMs;
  const context = {
    awsRequestId: randomUUID(),
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:' + process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: '1024',
    logGroupName: '/aws/lambda/' + process.env.AWS_LAMBDA_FUNCTION_NAME,
    logStreamName: '2026/11/24/[$LATEST]0123456789abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const t = performance.now();
  try {
    const value = await mod.handler(inv.event, context);
    out({ type: 'result', ok: true, value, ms: performance.now() - t, remainingMs: deadline - Date.now(), requestId: context.awsRequestId });
  } catch (e) {
    failed = true;
    out({ type: 'result', ok: false, error: { name: e?.name, message: e?.message }, ms: performance.now() - t, remainingMs: deadline - Date.now(), requestId: context.awsRequestId });
  }
}
process.exit(failed ? 1 : 0);
`;

type Invocation = { event: unknown; timeoutMs?: number };
type InvocationResult =
  | {
      ok: true;
      value: { backups: { database: string | null; key: string; manifestKey: string | null; bytes: number; sha256: string | null }[] };
      ms: number;
      remainingMs: number;
      requestId: string;
    }
  | { ok: false; error: { name: string; message: string }; ms: number; remainingMs: number; requestId: string };
/** json: every output line parsed (stdout and stderr). */
type RunOutput = {
  code: number | null;
  initMs: number;
  results: InvocationResult[];
  stdout: string;
  stderr: string;
  json: Record<string, unknown>[];
};

let workDir = '';
let functionDir = '';
let pgtoolsDir = '';
let runnerFile = '';
const initTimes: number[] = [];

function lambdaEnv(extra: Record<string, string>): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    AWS_LAMBDA_FUNCTION_NAME: SERVICE,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    LAMBDA_TASK_ROOT: functionDir,
    _HANDLER: 'index.handler',
    POWERTOOLS_SERVICE_NAME: SERVICE,
    POWERTOOLS_METRICS_NAMESPACE: 'RdsS3Backup',
    RDS_S3_BACKUP_PGTOOLS_DIR: pgtoolsDir,
    ...extra,
  };
}

async function invoke(
  env: Record<string, string>,
  invocations: Invocation[],
  opts: { dns?: Record<string, string> } = {},
): Promise<RunOutput> {
  const spec = {
    invocations: invocations.map((i) => ({ event: i.event, timeoutMs: i.timeoutMs ?? 300_000 })),
    ...(opts.dns ? { dns: opts.dns } : {}),
  };
  const child = spawn(process.execPath, [runnerFile, path.join(functionDir, 'index.mjs'), JSON.stringify(spec)], {
    cwd: functionDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const collect = (s: NodeJS.ReadableStream | null): Promise<string> =>
    new Promise((resolve) => {
      let text = '';
      s?.setEncoding('utf8');
      s?.on('data', (c: string) => (text += c));
      s?.on('end', () => resolve(text));
    });
  const [stdout, stderr, protocol, code] = await Promise.all([
    collect(child.stdout),
    collect(child.stderr),
    collect(child.stdio[3] as NodeJS.ReadableStream),
    new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c))),
  ]);
  const messages = protocol
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; ms: number });
  const init = messages.find((m) => m.type === 'init');
  assert.ok(init, `the runner did not load the handler:\n${stderr}\n${stdout}`);
  initTimes.push(init.ms);
  // Powertools writes INFO and EMF to stdout, WARN and ERROR to stderr: every line of both must be JSON.
  const json = [...stdout.split('\n'), ...stderr.split('\n')]
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return assert.fail(`output line is not JSON: ${l}`);
      }
    });
  return {
    code,
    initMs: init.ms,
    results: messages.filter((m) => m.type === 'result') as unknown as InvocationResult[],
    stdout,
    stderr,
    json,
  };
}

type Emf = {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
} & Record<string, unknown>;
const emf = (out: RunOutput, metric: string): Emf[] => out.json.filter((l): l is Emf => '_aws' in l && metric in l);

function assertNoSecrets(out: RunOutput, ...secrets: string[]): void {
  for (const s of secrets) {
    for (const [name, text] of [
      ['stdout', out.stdout],
      ['stderr', out.stderr],
    ] as const) {
      assert.ok(!text.includes(s) && !text.includes(encodeURIComponent(s)), `${name} contains a secret`);
    }
  }
}

const scheduledEvent = (detail: unknown = {}) => ({
  version: '0',
  id: 'c9e0a0b4-0000-4000-8000-000000000001',
  'detail-type': 'Scheduled Event',
  source: 'aws.scheduler',
  account: '123456789012',
  time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  region: 'us-east-1',
  resources: ['arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly'],
  detail,
});

// ------------------------------------------------------------------------------------------- test servers
/** A TCP proxy to moto that slows requests down (per connection) and records their request lines. */
async function throttlingProxy(
  target: number,
  bytesPerSecond: number,
): Promise<{ endpoint: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let queue = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(/(?:^|\r\n)((?:GET|PUT|POST|DELETE|HEAD) \S+) HTTP\/1\.1\r\n/g))
        requests.push(m[1]!);
      client.pause();
      queue = queue.then(async () => {
        for (let off = 0; off < chunk.length; off += 16 * 1024) {
          const piece = chunk.subarray(off, off + 16 * 1024);
          if (!upstream.destroyed) upstream.write(piece);
          await new Promise((r) => setTimeout(r, (piece.length / bytesPerSecond) * 1000));
        }
        if (!client.destroyed) client.resume();
      });
    });
    upstream.pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * Speaks just enough of the PostgreSQL protocol to ask for a cleartext password and record it: with IAM auth
 * that password is the RDS auth token, which the test then takes apart. It always refuses the login.
 */
async function passwordCatcher(): Promise<{ port: number; passwords: string[]; users: string[]; close(): Promise<void> }> {
  const passwords: string[] = [];
  const users: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let started = false;
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (!started) {
          if (buf.length < 8) return;
          const len = buf.readInt32BE(0);
          if (buf.length < len) return;
          const code = buf.readInt32BE(4);
          const body = buf.subarray(8, len);
          buf = buf.subarray(len);
          if (code === 80877103 || code === 80877104) {
            sock.write('N'); // no SSL, no GSS encryption
            continue;
          }
          const params = body.toString('utf8').split('\0');
          const u = params.indexOf('user');
          if (u >= 0) users.push(params[u + 1]!);
          started = true;
          const auth = Buffer.alloc(9);
          auth.write('R', 0);
          auth.writeInt32BE(8, 1);
          auth.writeInt32BE(3, 5); // AuthenticationCleartextPassword
          sock.write(auth);
          continue;
        }
        if (buf.length < 5) return;
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) return;
        if (String.fromCharCode(buf[0]!) === 'p')
          passwords.push(
            buf
              .subarray(5, len + 1)
              .toString('utf8')
              .replace(/\0$/, ''),
          );
        buf = buf.subarray(len + 1);
        const fields = Buffer.from(`SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "${users.at(-1) ?? ''}"\0\0`, 'utf8');
        const err = Buffer.alloc(5);
        err.write('E', 0);
        err.writeInt32BE(fields.length + 4, 1);
        sock.end(Buffer.concat([err, fields]));
        return;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    passwords,
    users,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

// ------------------------------------------------------------------------------------------------- the tests
describe('the built Lambda artifact', { timeout: 600_000 }, () => {
  let pg: PgServer;
  let moto: MotoServer;
  let secrets: SecretsManagerClient;
  let secretArn = '';
  let wrongSecretArn = '';

  before(async () => {
    const t0 = performance.now();
    const { rebuilt } = ensureLambdaArtifacts();
    workDir = mkdtempSync(path.join(tmpdir(), 'rds-s3-backup-lambda-'));
    functionDir = path.join(workDir, 'task');
    const opt = path.join(workDir, 'opt');
    execFileSync('unzip', ['-q', path.join(DIST, 'function.zip'), '-d', functionDir]);
    execFileSync('unzip', ['-q', path.join(DIST, `pgtools-layer-${LAYER_ARCH}.zip`), '-d', opt]);
    pgtoolsDir = path.join(opt, 'pgtools');
    runnerFile = path.join(workDir, 'runner.mjs');
    writeFileSync(runnerFile, RUNNER);
    console.log(`# artifacts ${rebuilt ? 'built' : 'reused'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    [pg, moto] = await Promise.all([startPostgres({ major: 18, ssl: true, password: PASSWORD }), startMoto()]);
    await pg.query('create database app');
    await pg.query('create database shop');
    await pg.query(
      "create table items (id int primary key, name text); insert into items select g, 'item ' || g from generate_series(1, 1000) g",
      'app',
    );
    // Incompressible rows for the time-budget case: ~24 MiB of random bytes.
    await pg.query(
      "create table blob (id int, data bytea); insert into blob select g, decode((select string_agg(md5(random()::text || g::text || s::text), '') from generate_series(1, 64) s), 'hex') from generate_series(1, 24 * 1024) g",
      'shop',
    );
    secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    // A host name as on RDS (the test certificate is for localhost and 127.0.0.1).
    const secret = (password: string) =>
      JSON.stringify({ engine: 'postgres', username: pg.user, password, host: 'localhost', port: pg.port, dbname: 'postgres' });
    secretArn = (await secrets.send(new CreateSecretCommand({ Name: 'rds!db-backup-good', SecretString: secret(PASSWORD) }))).ARN!;
    wrongSecretArn = (await secrets.send(new CreateSecretCommand({ Name: 'rds!db-backup-wrong', SecretString: secret(WRONG_PASSWORD) })))
      .ARN!;
  });

  after(async () => {
    secrets?.destroy();
    await Promise.all([pg?.stop(), moto?.stop()]);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    if (initTimes.length > 0) {
      const sorted = [...initTimes].sort((a, b) => a - b);
      console.log(
        `# cold init of the bundled handler (import index.mjs + config parse): median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms over ${sorted.length} cold starts`,
      );
    }
  });

  const secretEnv = (bucket: string, extra: Record<string, string> = {}) =>
    lambdaEnv({
      ...moto.env(),
      RDS_S3_BACKUP_TO: `s3://${bucket}/nightly`,
      RDS_S3_BACKUP_SECRET_ID: secretArn,
      RDS_S3_BACKUP_DATABASES: 'app,shop',
      PGSSLROOTCERT: pg.caFile!,
      ...extra,
    });

  test('the artifacts: sizes within budget, manifest with SHA-256 and package versions, layer layout', () => {
    type ManifestArtifact = {
      file: string;
      kind: string;
      bytes: number;
      sha256: string;
      packages: Record<string, string>;
      handler?: string;
      pgVersion?: string;
    };
    const manifest = JSON.parse(readFileSync(path.join(DIST, 'manifest.json'), 'utf8')) as { artifacts: ManifestArtifact[] };
    assert.deepEqual(manifest.artifacts.map((a) => a.file).sort(), [
      'function.zip',
      'pgtools-layer-arm64.zip',
      'pgtools-layer-x86_64.zip',
      'rds-ca-bundle.pem',
    ]);
    for (const a of manifest.artifacts) {
      const file = path.join(DIST, a.file);
      assert.equal(statSync(file).size, a.bytes, a.file);
      assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), a.sha256, a.file);
      assert.ok(a.bytes <= (a.kind === 'function' ? 1024 * 1024 : 8 * 1024 * 1024), `${a.file} is ${a.bytes} bytes`);
    }
    const fn = manifest.artifacts.find((a) => a.kind === 'function')!;
    assert.equal(fn.handler, 'index.handler');
    for (const name of [
      '@aws-sdk/client-s3',
      '@aws-sdk/client-secrets-manager',
      '@aws-sdk/client-rds',
      '@aws-sdk/rds-signer',
      'pg',
      '@aws-lambda-powertools/logger',
    ]) {
      const installed = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
        .version;
      assert.equal(fn.packages[name], installed, name);
    }
    const layer = manifest.artifacts.find((a) => a.file === `pgtools-layer-${LAYER_ARCH}.zip`)!;
    assert.match(layer.packages['postgresql-client-18'] ?? '', /^18\./);
    assert.match(layer.pgVersion ?? '', /^18\./);
    // Lambda extracts layers to /opt: the tools must sit at pgtools/bin and keep their execute bits.
    const listing = execFileSync('zipinfo', [path.join(DIST, `pgtools-layer-${LAYER_ARCH}.zip`)], { encoding: 'utf8' });
    assert.match(listing, /^-rwxr-xr-x .* pgtools\/bin\/pg_dump$/m);
    assert.match(listing, /^-rwxr-xr-x .* pgtools\/libexec\/pg_dump$/m);
    assert.ok(existsSync(path.join(pgtoolsDir, 'bin', 'pg_dump')));
  });

  test('a scheduled event backs up the selected database over verify-full TLS with Secrets Manager auth', async (t) => {
    const bucket = await moto.createBucket();
    const out = await invoke(secretEnv(bucket), [{ event: scheduledEvent({ databases: ['app'] }) }]);
    t.diagnostic(`cold init ${out.initMs.toFixed(0)} ms; invocation ${out.results[0]?.ms.toFixed(0)} ms`);
    assert.equal(out.code, 0, out.stderr);
    const r = out.results[0]!;
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(
      r.value.backups.map((b) => b.database),
      ['app'],
    );
    const b = r.value.backups[0]!;
    assert.ok(b.manifestKey);
    const keys = await moto.listKeys(bucket);
    assert.deepEqual(keys.sort(), [b.key, b.manifestKey].sort(), 'only the selected database');
    const manifest = JSON.parse(
      await (await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: b.manifestKey }))).Body!.transformToString(),
    ) as {
      database: string;
      object: { bytes: number; sha256: string };
    };
    assert.equal(manifest.database, 'app');
    assert.equal(manifest.object.sha256, b.sha256);
    assert.equal((await moto.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: b.key }))).ContentLength, b.bytes);
    const dump = await (await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: b.key }))).Body!.transformToByteArray();
    assert.equal(Buffer.from(dump.subarray(0, 5)).toString('latin1'), 'PGDMP');

    const ok = emf(out, 'BackupSucceeded');
    assert.equal(ok.length, 1);
    assert.deepEqual(ok[0]!._aws.CloudWatchMetrics[0], {
      Namespace: 'RdsS3Backup',
      Dimensions: [['service']],
      Metrics: [{ Name: 'BackupSucceeded', Unit: 'Count' }],
    });
    assert.equal(ok[0]!.service, SERVICE);
    assert.equal(ok[0]!.BackupSucceeded, 1);
    assert.equal(emf(out, 'BackupFailed').length, 0);
    const perDb = emf(out, 'DatabaseBackupSucceeded');
    assert.equal(perDb.length, 1);
    assert.deepEqual(perDb[0]!._aws.CloudWatchMetrics[0]!.Dimensions, [['service', 'database']]);
    assert.equal(perDb[0]!.database, 'app');
    assert.equal(perDb[0]!.BackupBytes, b.bytes);
    assert.ok(typeof perDb[0]!.BackupThroughput === 'number' && typeof perDb[0]!.BackupDuration === 'number');

    const logs = out.json.filter((l) => 'level' in l);
    assert.ok(logs.some((l) => l.message === 'backup done' && l.function_request_id === r.requestId && l.cold_start === true));
    assertNoSecrets(out, PASSWORD);
  });

  test('a wrong password fails the invocation and emits BackupFailed', async () => {
    const bucket = await moto.createBucket();
    const out = await invoke(secretEnv(bucket, { RDS_S3_BACKUP_SECRET_ID: wrongSecretArn }), [{ event: scheduledEvent() }]);
    assert.equal(out.code, 1);
    const r = out.results[0]!;
    assert.ok(!r.ok);
    assert.equal(r.error.name, 'ConnectionError');
    assert.match(r.error.message, /password authentication failed/);
    assert.equal(emf(out, 'BackupFailed').length, 1);
    assert.equal(emf(out, 'BackupSucceeded').length, 0);
    const failure = out.json.find((l) => l.level === 'ERROR' && l.message === 'backup run failed');
    assert.equal(failure?.hint, 'check the user and password', JSON.stringify(failure));
    assert.deepEqual(await moto.listKeys(bucket), []);
    assertNoSecrets(out, PASSWORD, WRONG_PASSWORD);
  });

  test('without PGSSLROOTCERT, verify-full trusts the bundled Amazon RDS CAs only: a certificate from another CA is refused', async () => {
    const bucket = await moto.createBucket();
    // PGSSLROOTCERT unset: the default is rds-ca-bundle.pem in LAMBDA_TASK_ROOT (the unpacked function.zip). The test
    // server's certificate comes from a throwaway CA, so a TLS refusal (not a configuration error about a missing
    // file) shows that the default file exists, is loaded, and is the only trust anchor.
    const out = await invoke(secretEnv(bucket, { PGSSLROOTCERT: '' }), [{ event: scheduledEvent() }]);
    assert.equal(out.code, 1);
    const r = out.results[0]!;
    assert.ok(!r.ok);
    assert.equal(r.error.name, 'ConnectionError', r.error.message);
    assert.match(r.error.message, /certificate/i);
    assert.deepEqual(await moto.listKeys(bucket), []);
  });

  test('near the timeout the dump and its multipart upload are aborted, nothing is left behind', async (t) => {
    const bucket = await moto.createBucket();
    // 512 KiB/s per connection: the 24 MiB dump cannot finish in the 4 s before the abort margin is reached.
    const proxy = await throttlingProxy(moto.port, 512 * 1024);
    try {
      const env = secretEnv(bucket, { AWS_ENDPOINT_URL: proxy.endpoint, RDS_S3_BACKUP_PART_SIZE_MB: '5' });
      const out = await invoke(env, [{ event: scheduledEvent({ databases: ['shop'] }), timeoutMs: 30_000 + 4_000 }]);
      t.diagnostic(
        `aborted run took ${out.results[0]?.ms.toFixed(0)} ms, ${out.results[0]?.remainingMs} ms before the simulated timeout; S3 requests: ${proxy.requests.map((r) => r.split('?')[0]!.split(' ')[0] + '?' + (r.split('?')[1] ?? '').replace(/=[^&]*/g, '')).join(', ')}`,
      );
      assert.equal(out.code, 1);
      const r = out.results[0]!;
      assert.ok(!r.ok);
      assert.equal(r.error.name, 'AbortedError');
      t.diagnostic(r.error.message);
      assert.match(r.error.message, /time budget ran out while backing up shop/);
      assert.match(
        r.error.message,
        /shop needs a longer-running runner: the Terraform module's ECS Fargate task \(runner = "ecs"\) or the rds-s3-backup CLI on a host/,
      );
      assert.ok(r.remainingMs > 0, 'finished before the function would have timed out');
      assert.ok(
        proxy.requests.some((q) => /^POST \S+\?uploads/.test(q)),
        `a multipart upload was started: ${proxy.requests.join(' | ')}`,
      );
      assert.ok(
        proxy.requests.some((q) => /^DELETE \S+uploadId=/.test(q)),
        `and aborted: ${proxy.requests.join(' | ')}`,
      );
      assert.deepEqual(await moto.listMultipartUploads(bucket), []);
      assert.deepEqual(await moto.listKeys(bucket), [], 'no dump, no manifest');
      assert.equal(emf(out, 'BackupFailed').length, 1);
      assert.equal(emf(out, 'DatabaseBackupFailed').length, 1);
      assertNoSecrets(out, PASSWORD);
    } finally {
      await proxy.close();
    }
  });

  test('IAM auth with an RDS instance identifier: the token is signed for the DB region, host, port and user', async () => {
    const catcher = await passwordCatcher();
    const rds = new RDSClient({ endpoint: moto.endpoint, region: 'eu-west-2', credentials: moto.credentials });
    try {
      const created = await rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: 'orders-db',
          DBInstanceClass: 'db.t4g.micro',
          Engine: 'postgres',
          AllocatedStorage: 20,
          MasterUsername: 'admin_user',
          MasterUserPassword: 'not-used-by-the-test',
          Port: catcher.port,
          EnableIAMDatabaseAuthentication: true,
        }),
      );
      const host = created.DBInstance?.Endpoint?.Address ?? '';
      assert.match(host, /^orders-db\..+\.eu-west-2\.rds\.amazonaws\.com$/);
      const env = lambdaEnv({
        ...moto.env(),
        RDS_S3_BACKUP_TO: 's3://unused-bucket/x',
        RDS_S3_BACKUP_AUTH: 'iam',
        RDS_S3_BACKUP_DB_INSTANCE_ID: 'arn:aws:rds:eu-west-2:123456789012:db:orders-db',
        PGUSER: 'backup_iam',
        // The fake server has no TLS; weaker modes only when configured explicitly, as here.
        PGSSLMODE: 'disable',
        // And the token goes out in cleartext to an unverified server only when that is allowed explicitly too.
        RDS_S3_BACKUP_ALLOW_UNVERIFIED_PASSWORD: 'true',
      });
      const out = await invoke(env, [{ event: scheduledEvent() }], { dns: { '.rds.amazonaws.com': '127.0.0.1' } });
      const r = out.results[0]!;
      assert.ok(!r.ok);
      assert.match(r.error.message, /cannot connect to backup_iam@orders-db\.\S+:\d+\/postgres: password authentication failed/);
      assert.deepEqual(catcher.users, ['backup_iam']);
      assert.equal(catcher.passwords.length, 1);
      const token = catcher.passwords[0]!;
      // <host>:<port>/?Action=connect&DBUser=...&X-Amz-Credential=<key>/<date>/<region>/rds-db/aws4_request&...
      const url = new URL(`https://${token}`);
      assert.equal(url.hostname, host);
      assert.equal(url.port, String(catcher.port));
      assert.equal(url.searchParams.get('Action'), 'connect');
      assert.equal(url.searchParams.get('DBUser'), 'backup_iam');
      const scope = url.searchParams.get('X-Amz-Credential')!.split('/');
      assert.deepEqual([scope[0], scope[2], scope[3], scope[4]], [moto.credentials.accessKeyId, 'eu-west-2', 'rds-db', 'aws4_request']);
      assert.equal(url.searchParams.get('X-Amz-Expires'), '900');
      assert.match(url.searchParams.get('X-Amz-Signature') ?? '', /^[0-9a-f]{64}$/);
      assert.equal(emf(out, 'BackupFailed').length, 1);
      assertNoSecrets(out, url.searchParams.get('X-Amz-Signature')!);
    } finally {
      rds.destroy();
      await catcher.close();
    }
  });

  test('events that add fields, change the bucket or carry a secret are rejected', async () => {
    const bucket = await moto.createBucket();
    const out = await invoke(secretEnv(bucket), [
      { event: scheduledEvent({ databases: ['app'], compress: 'none' }) },
      { event: { databases: ['app'], bucket: 'attacker-bucket' } },
      { event: scheduledEvent({ password: 'Zq9-event-secret-value' }) },
      { event: scheduledEvent({ databases: ['postgres'] }) },
    ]);
    assert.equal(out.code, 1);
    const messages = out.results.map((r) => (r.ok ? 'ok' : r.error.message));
    assert.match(messages[0]!, /event\.detail\."compress": an event cannot change connection or dump settings/);
    assert.match(messages[1]!, /event\."bucket": an event cannot change where backups go/);
    assert.match(messages[2]!, /event\.detail\."password": an event cannot carry credentials/);
    assert.match(messages[3]!, /"postgres" is not among the configured databases/);
    assert.ok(out.results.every((r) => !r.ok && r.error.name === 'ConfigError'));
    assert.equal(emf(out, 'BackupFailed').length, 4);
    assert.deepEqual(await moto.listKeys(bucket), []);
    assertNoSecrets(out, 'Zq9-event-secret-value', PASSWORD);
  });

  test('an invalid environment fails every invocation clearly (the module still loads)', async () => {
    const out = await invoke(
      lambdaEnv({ RDS_S3_BACKUP_TO: 'file:///tmp/backups', RDS_S3_BACKUP_COMPRESS: 'brotli', PGSSLROOTCERT: '/nonexistent/ca.pem' }),
      [{ event: scheduledEvent() }, { event: scheduledEvent() }],
    );
    assert.equal(out.code, 1);
    assert.equal(out.results.length, 2);
    for (const r of out.results) {
      assert.ok(!r.ok);
      assert.equal(r.error.name, 'ConfigError');
      for (const v of ['RDS_S3_BACKUP_TO', 'RDS_S3_BACKUP_COMPRESS', 'PGHOST', 'PGUSER', 'PGSSLROOTCERT'])
        assert.match(r.error.message, new RegExp(`- ${v}:`));
    }
    assert.equal(emf(out, 'BackupFailed').length, 2);
  });
});
