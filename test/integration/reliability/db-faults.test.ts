// PostgreSQL misbehaving under a real backup: sessions killed, server stopped, unreachable, TLS mismatches,
// databases vanishing, locks. Real servers, the real pg_dump bundle, moto; the CLI as users run it.
// Network faults use loopback only (see docs/reliability.md for the blackhole substitutes).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import pg from 'pg';
import { runCli, startCli } from '../../support/cli.ts';
import { startMoto, type MotoServer } from '../../support/moto.ts';
import { startPostgres, type PgServer } from '../../support/postgres.ts';
import { freePort } from '../../support/process.ts';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.ts';
import { assertActionableFailure, assertBucketInvariants, assertNothingStored, until } from '../../support/invariants.ts';
import { parseBackupConfig } from '../../../src/core/config/backup-config.ts';
import { collectRaw } from '../../../src/core/config/raw.ts';
import { runBackup } from '../../../src/core/backup/run-backup.ts';
import type { DatabaseSource } from '../../../src/core/ports/database-source.ts';
import { resolveConnection } from '../../../src/postgres/credentials.ts';
import { PgSource } from '../../../src/postgres/source.ts';
import { locatePgTools } from '../../../src/postgres/tools.ts';
import { S3Store, createS3Client } from '../../../src/storage/s3.ts';

let moto: MotoServer;
let pg18: PgServer;
let slowS3: FaultProxy;
const cleanups: (() => Promise<unknown> | undefined)[] = [];

before(async () => {
  [moto, pg18] = await Promise.all([startMoto(), startPostgres({ major: 18 })]);
  // Every part upload answered 1.5 s late: pg_dump fills the pipe and waits mid-COPY, so the test can hit it there.
  slowS3 = await startFaultProxy(moto.endpoint, (r) => (r.op === 'UploadPart' ? { kind: 'delay', ms: 1500 } : undefined));
  await seedBig(pg18);
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await slowS3?.stop();
  await Promise.all([moto?.stop(), pg18?.stop()]);
});

async function seedBig(server: PgServer): Promise<void> {
  await server.query('create database big');
  await server.query(
    "create table blob as select i, decode(md5(random()::text) || md5(random()::text), 'hex') as b from generate_series(1, 500000) i",
    'big',
  );
}

const SLOW_ARGS = ['--databases', 'big', '--compress', 'none', '--part-size-mb', '5', '--queue-size', '1'];

async function copyBackendPid(server: PgServer): Promise<number> {
  return until(
    async () => {
      const rows = await server.query<{ pid: number }>(
        "select pid from pg_stat_activity where query like 'COPY %' and pid <> pg_backend_pid()",
      );
      return rows[0]?.pid;
    },
    30_000,
    "pg_dump's COPY",
  );
}

test("pg_dump's backend terminated mid-dump (pg_terminate_backend) ⇒ aborted, nothing stored, says the server ended the session", async () => {
  const bucket = await moto.createBucket();
  const cli = startCli(['backup', '--to', `s3://${bucket}/p`, ...SLOW_ARGS], {
    ...pg18.env('postgres'),
    ...moto.env(),
    AWS_ENDPOINT_URL: slowS3.endpoint,
  });
  const pid = await copyBackendPid(pg18);
  await slowS3.waitFor((e) => e.op === 'UploadPart');
  await pg18.query('select pg_terminate_backend($1)', 'postgres', [pid]);
  const res = await cli.result;
  // Depending on timing libpq reports the FATAL message or only the closed socket.
  assertActionableFailure(
    res,
    /pg_dump exited with code 1:[\s\S]*(terminating connection due to administrator command|server closed the connection unexpectedly)/,
    /server ended pg_dump's session/,
  );
  await assertNothingStored(moto, bucket);
});

test('server stopped mid-dump ⇒ aborted, nothing stored, says the server ended the session', async () => {
  const doomed = await startPostgres({ major: 18 });
  cleanups.push(() => doomed.stop());
  await seedBig(doomed);
  const bucket = await moto.createBucket();
  const cli = startCli(['backup', '--to', `s3://${bucket}/p`, ...SLOW_ARGS], {
    ...doomed.env('postgres'),
    ...moto.env(),
    AWS_ENDPOINT_URL: slowS3.endpoint,
  });
  await copyBackendPid(doomed);
  await doomed.stop();
  const res = await cli.result;
  assertActionableFailure(
    res,
    /pg_dump exited with code 1:[\s\S]*(terminating connection|server closed the connection|connection to server .* lost)/,
    /server ended pg_dump's session/,
  );
  await assertNothingStored(moto, bucket);
});

test('server unreachable: closed port ⇒ fast failure naming the address, hint about host/port', async () => {
  const bucket = await moto.createBucket();
  const port = await freePort();
  const t0 = Date.now();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big'], {
    ...pg18.env('postgres'),
    PGPORT: String(port),
    ...moto.env(),
  });
  assertActionableFailure(
    res,
    new RegExp(`cannot connect to postgres@127\\.0\\.0\\.1:${port}/postgres: .*ECONNREFUSED`),
    /unreachable: check host, port/,
  );
  assert.ok(Date.now() - t0 < 10_000);
  await assertNothingStored(moto, bucket);
});

test('server unreachable: a listener that accepts TCP but never answers the startup ⇒ gives up after --connect-timeout', async () => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => silent.close(r));
  });
  const port = (silent.address() as net.AddressInfo).port;
  const bucket = await moto.createBucket();
  const t0 = Date.now();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--connect-timeout', '2'], {
    ...pg18.env('postgres'),
    PGPORT: String(port),
    ...moto.env(),
  });
  const took = Date.now() - t0;
  assertActionableFailure(res, /cannot connect to .*timeout/i, /unreachable/);
  assert.ok(took >= 1_900 && took < 10_000, `took ${took} ms with --connect-timeout 2`);
  await assertNothingStored(moto, bucket);
});

test('server unreachable: blackholed (SYNs dropped by a full accept queue) ⇒ gives up after --connect-timeout', async () => {
  // A listening socket that never accepts, with its accept queue filled: the kernel then drops further SYNs, which
  // is what a blackholed address (security group, dead route) looks like to the client.
  const holder = spawn(
    '/usr/bin/python3',
    [
      '-c',
      [
        'import socket, sys, time',
        's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
        'fill = []',
        'for _ in range(4):',
        '    c = socket.socket(); c.setblocking(False)',
        '    try: c.connect(s.getsockname())',
        '    except BlockingIOError: pass',
        '    fill.append(c)',
        'time.sleep(0.3)',
        'print(s.getsockname()[1], flush=True)',
        'sys.stdin.read()',
      ].join('\n'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  cleanups.push(() => void holder.kill('SIGKILL'));
  const port = await new Promise<number>((resolve) => holder.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  // Prove the blackhole: a plain connect does not complete.
  const probe = net.connect(port, '127.0.0.1');
  const connected = await Promise.race([
    new Promise((r) => probe.once('connect', () => r(true))),
    new Promise((r) => setTimeout(() => r(false), 1000)),
  ]);
  probe.destroy();
  assert.equal(connected, false, 'the listener must not complete handshakes');

  const bucket = await moto.createBucket();
  const t0 = Date.now();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--connect-timeout', '2'], {
    ...pg18.env('postgres'),
    PGPORT: String(port),
    ...moto.env(),
  });
  const took = Date.now() - t0;
  assertActionableFailure(res, /cannot connect to .*timeout/i, /unreachable/);
  assert.ok(took >= 1_900 && took < 10_000, `took ${took} ms with --connect-timeout 2`);
  await assertNothingStored(moto, bucket);
});

test('TLS required by the client (sslmode=require / verify-full) but not offered by the server ⇒ refused, TLS hint', async () => {
  const bucket = await moto.createBucket();
  for (const mode of [
    ['--sslmode', 'require'],
    ['--sslmode', 'verify-full', '--sslrootcert', '/etc/ssl/certs/ca-certificates.crt'],
  ]) {
    const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', ...mode], {
      ...pg18.env('postgres'),
      ...moto.env(),
    });
    assertActionableFailure(res, /cannot connect to .*does not support SSL/i, /does not offer TLS/);
  }
  await assertNothingStored(moto, bucket);
});

test('TLS required by the server (rds.force_ssl style) and the client says sslmode=disable ⇒ refused, hint says to use TLS', async () => {
  const strict = await startPostgres({ major: 18, requireSsl: true });
  cleanups.push(() => strict.stop());
  const bucket = await moto.createBucket();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--sslmode', 'disable'], { ...strict.env('postgres'), ...moto.env() });
  assertActionableFailure(res, /cannot connect to .*pg_hba\.conf.*no encryption/, /PGSSLMODE=verify-full/);
  // With the server's CA and verify-full it works; sslmode=allow (plain first) must fall back to TLS as libpq does.
  const ok = await runCli(['backup', '--to', `s3://${bucket}/p`], { ...strict.env('postgres'), ...moto.env() });
  assert.equal(ok.code, 0, ok.stderr);
  const allow = await runCli(['backup', '--to', `s3://${bucket}/p`, '--sslmode', 'allow'], {
    ...strict.env('postgres'),
    ...moto.env(),
    PGSSLROOTCERT: '',
  });
  assert.equal(allow.code, 0, allow.stderr);
  const state = await assertBucketInvariants(moto, bucket);
  assert.equal(state.complete.length, 2);
});

test('TLS verify-full against a certificate from another CA ⇒ refused before any data moves, TLS hint', async () => {
  const tls = await startPostgres({ major: 18, ssl: true });
  cleanups.push(() => tls.stop());
  const bucket = await moto.createBucket();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`], {
    ...tls.env('postgres'),
    PGSSLROOTCERT: '/etc/ssl/certs/ca-certificates.crt',
    ...moto.env(),
  });
  assertActionableFailure(res, /cannot connect to .*(self.signed|certificate)/i, /TLS failed: check PGSSLMODE and PGSSLROOTCERT/);
  await assertNothingStored(moto, bucket);
});

test('database dropped between listing and dumping ⇒ that database fails with a clear reason, the others are backed up', async () => {
  await pg18.query('create database vanishing');
  await pg18.query('create database staying');
  await pg18.query('create table t as select 1 as x', 'staying');
  const bucket = await moto.createBucket();
  Object.assign(process.env, moto.env());
  const config = parseBackupConfig(collectRaw('backup', { to: `s3://${bucket}/p`, databases: 'all' }, pg18.env('postgres')));
  const conn = await resolveConnection(config.connection, config.auth, { env: {} });
  const real = new PgSource(conn, await locatePgTools(null, process.env));
  // The listing is taken, then the database disappears before its turn comes.
  const source: DatabaseSource = {
    listDatabases: async () => {
      const names = await real.listDatabases();
      await pg18.query('drop database vanishing');
      return names;
    },
    serverInfo: () => real.serverInfo(),
    dumpToolVersion: () => real.dumpToolVersion(),
    databaseSize: (d: string) => real.databaseSize(d),
    exportSnapshot: (d: string, l: string | null) => real.exportSnapshot(d, l),
    startDump: (r: Parameters<PgSource['startDump']>[0]) => real.startDump(r),
    startGlobalsDump: () => real.startGlobalsDump(),
    close: () => real.close(),
  };
  const client = createS3Client(moto.env());
  try {
    const report = await runBackup(
      {
        databases: 'all',
        globals: false,
        compression: 'zstd:3',
        rowCounts: false,
        lockWaitTimeout: '10s',
        partSizeMinBytes: 5 * 1024 * 1024,
        queueSize: 2,
        kmsKeyId: null,
      },
      { source, store: new S3Store({ bucket, prefix: 'p', kmsKeyId: null, client }) },
    );
    const gone = report.results.find((r) => r.database === 'vanishing')!;
    assert.equal(gone.ok, false);
    assert.match(gone.error!.message, /database "vanishing" does not exist/);
    assert.match(gone.error!.hint ?? '', /dropped/);
    assert.equal(report.results.find((r) => r.database === 'staying')!.ok, true);
    assert.equal(report.ok, false);
  } finally {
    await source.close();
    client.destroy();
  }
  const state = await assertBucketInvariants(moto, bucket);
  assert.ok(state.complete.some((b) => b.database === 'staying'));
  assert.ok(!state.keys.some((k) => k.includes('/vanishing/')));
});

for (const rowCounts of [false, true]) {
  test(`a lock held on a table${rowCounts ? ' (with --row-counts)' : ''} ⇒ gives up after --lock-wait-timeout and says so`, async () => {
    const db = rowCounts ? 'locked_rc' : 'locked';
    await pg18.query(`create database ${db}`);
    await pg18.query('create table accounts as select i from generate_series(1, 100) i', db);
    const holder = new pg.Client({ host: '127.0.0.1', port: pg18.port, user: pg18.user, password: pg18.password, database: db });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table accounts in access exclusive mode');
      const bucket = await moto.createBucket();
      const t0 = Date.now();
      const res = await runCli(
        ['backup', '--to', `s3://${bucket}/p`, '--databases', db, '--lock-wait-timeout', '1s', ...(rowCounts ? ['--row-counts'] : [])],
        { ...pg18.env('postgres'), ...moto.env() },
      );
      const took = Date.now() - t0;
      // pg_dump enforces --lock-wait-timeout with statement_timeout on its LOCK TABLE; --row-counts with lock_timeout.
      // The count runs beside the dump, so with --row-counts either may give up first.
      assertActionableFailure(
        res,
        rowCounts
          ? /counting the rows of locked_rc failed: .*lock timeout|statement timeout[\s\S]*LOCK TABLE/
          : /statement timeout[\s\S]*LOCK TABLE/,
        /conflicting lock.*--lock-wait-timeout/,
      );
      assert.ok(took < 20_000, `took ${took} ms with --lock-wait-timeout 1s`);
      await assertNothingStored(moto, bucket);
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  });
}
