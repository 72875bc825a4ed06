// The download before `restore --jobs` as parallel ranged GETs, against moto and the real SDK, with the fault proxy
// between them: the data restores equal from overlapping Range requests pinned by If-Match; an object replaced
// between ranges (412), a hanging range + abort, and a corrupted range each leave the target untouched and no
// temporary copy behind. verify --integrity-only reads the same way. Small ranges (64 KiB) so that a database of a few
// MB spans many of them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { executeRestore } from '../../src/app/restore.ts';
import { executeVerify } from '../../src/app/verify.ts';
import { parseCommandArgs } from '../../src/cli/args.ts';
import { collectRaw } from '../../src/core/config/raw.ts';
import { parseRestoreConfig } from '../../src/core/config/restore-config.ts';
import { parseVerifyConfig } from '../../src/core/config/verify-config.ts';
import type { VerifyReport } from '../../src/core/restore/verify.ts';
import { AbortedError, IntegrityError, ObjectChangedError } from '../../src/core/errors.ts';
import { createS3Client, S3Store } from '../../src/storage/s3.ts';
import { runCli } from '../support/cli.ts';
import { fingerprint, seedShop } from '../support/dataset.ts';
import { type FaultProxy, type FaultRule, type ProxyLogEntry, startFaultProxy } from '../support/fault-proxy.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

const PART = 64 * 1024;

let moto: MotoServer;
let pg: PgServer;
let proxy: FaultProxy;
let bucket: string;
let key: string;
let source: Record<string, string>;
let tmp: string;

before(async () => {
  [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18 })]);
  bucket = await moto.createBucket();
  proxy = await startFaultProxy(moto.endpoint);
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rsb-ranged-it-'));
  await seedShop(pg, 'shop', 20_000);
  source = await fingerprint(pg, 'shop');
  const res = await runCli(['backup', '--to', `s3://${bucket}/prod`, '--databases', 'shop', '--json'], {
    ...pg.env('postgres'),
    ...moto.env(),
  });
  assert.equal(res.code, 0, res.stderr);
  key = (JSON.parse(res.stdout) as { results: { key: string }[] }).results[0]!.key;
});

after(async () => {
  await proxy?.stop();
  await Promise.all([pg?.stop(), moto?.stop()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function store(): S3Store {
  // The production client factory; in process the SDK takes the endpoint and credentials from process.env.
  Object.assign(process.env, { ...moto.env(), AWS_ENDPOINT_URL: proxy.endpoint });
  const client = createS3Client({ ...moto.env(), AWS_ENDPOINT_URL: proxy.endpoint }, { socketTimeoutMs: 30_000 });
  return new S3Store({ bucket, prefix: 'prod', kmsKeyId: null, client, ranges: { partSize: PART, concurrency: 4 } });
}

async function restoreInto(db: string, rule: FaultRule | undefined, signal?: AbortSignal): Promise<unknown> {
  await pg.query(`create database ${db}`);
  proxy.setRule(rule);
  const e = pg.env('postgres');
  const args = ['--from', `s3://${bucket}/prod`, '--database', 'shop', '--latest', '--jobs', '2', '--temp-dir', tmp];
  const raw = collectRaw('restore', parseCommandArgs('restore', [...args, '--target', `host=127.0.0.1 dbname=${db}`]).values, e);
  return executeRestore(parseRestoreConfig(raw), { store: store(), env: e, signal });
}

async function tables(db: string): Promise<number> {
  const rows = await pg.query<{ n: string }>("select count(*) as n from pg_tables where schemaname = 'shop'", db);
  return Number(rows[0]!.n);
}

function rangesOf(log: readonly ProxyLogEntry[]): ProxyLogEntry[] {
  return log.filter((e) => e.op === 'GetObject' && e.key.endsWith(key.split('/').pop()!) && e.range !== null);
}

const notFirst = (r: { range: string | null }): boolean => r.range !== null && !r.range.startsWith('bytes=0-');

test('--jobs 2: equal data from concurrent Range requests, every one after the first pinned with If-Match', async (t) => {
  const seen = proxy.log.length;
  // 30 ms per range makes the overlap certain on a busy machine; it is not what creates it.
  await restoreInto('r_ranged', (r) => (r.op === 'GetObject' && r.range ? { kind: 'delay', ms: 30 } : undefined));
  assert.deepEqual(await fingerprint(pg, 'r_ranged'), source);
  const ranges = rangesOf(proxy.log.slice(seen));
  const size = Number((await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }))).ContentLength);
  assert.equal(ranges.length, Math.ceil(size / PART), `one request per ${PART} bytes of ${size}`);
  assert.ok(ranges.every((r) => r.status === 206));
  const etag = (await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-0' }))).ETag;
  assert.equal(ranges[0]!.ifMatch, null);
  assert.ok(
    ranges.slice(1).every((r) => r.ifMatch === etag),
    'If-Match carries the first response ETag',
  );
  const overlapping = Math.max(...ranges.map((a) => ranges.filter((b) => b.at <= a.at && (b.endedAt ?? Infinity) > a.at).length));
  assert.ok(overlapping >= 2, `ranges were in flight together (at most ${overlapping} at once)`);
  assert.ok(overlapping <= 4, `never more than 4 at once (${overlapping})`);
  t.diagnostic(`${ranges.length} ranges of ${size} bytes, at most ${overlapping} in flight together`);
  assert.deepEqual(await readdir(tmp), []);
});

test('the object replaced between ranges ⇒ 412 ⇒ ObjectChangedError, nothing restored, no copy left', async () => {
  const original = Buffer.from(
    await (await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray(),
  );
  const seen = proxy.log.length;
  try {
    // The later ranges wait until the object was replaced (same size: only the ETag tells).
    const restoring = restoreInto('r_changed', (r) => (r.op === 'GetObject' && notFirst(r) ? { kind: 'delay', ms: 1500 } : undefined));
    restoring.catch(() => undefined);
    await proxy.waitFor((e) => e.seq > seen && e.op === 'GetObject' && e.range?.startsWith('bytes=0-') === true && e.status === 206);
    const replaced = Buffer.from(original);
    replaced[replaced.length - 100]! ^= 0xff;
    await moto.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: replaced }));
    await assert.rejects(restoring, (e: Error) => {
      assert.ok(e instanceof ObjectChangedError, String(e));
      assert.match(e.message, /changed while it was being downloaded/);
      return true;
    });
  } finally {
    await moto.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: original }));
  }
  assert.ok(rangesOf(proxy.log.slice(seen)).some((r) => r.status === 412));
  assert.equal(await tables('r_changed'), 0);
  assert.deepEqual(await readdir(tmp), []);
});

test('a hanging range and an abort ⇒ AbortedError at once, nothing restored, no copy left', async () => {
  const seen = proxy.log.length;
  const ac = new AbortController();
  const restoring = restoreInto(
    'r_hang',
    (r) => (r.op === 'GetObject' && r.range === `bytes=${PART}-${2 * PART - 1}` ? { kind: 'hang' } : undefined),
    ac.signal,
  );
  restoring.catch(() => undefined);
  await proxy.waitFor((e) => e.seq > seen && e.action === 'hang');
  // The other ranges of the window complete; the reader waits for the hung one.
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  ac.abort();
  await assert.rejects(restoring, AbortedError);
  assert.ok(Date.now() - t0 < 2000, `cancelled in ${Date.now() - t0} ms`);
  assert.equal(await tables('r_hang'), 0);
  assert.deepEqual(await readdir(tmp), []);
});

test('a range corrupted on the way ⇒ SHA-256 mismatch, nothing restored, no copy left', async () => {
  const seen = proxy.log.length;
  await assert.rejects(
    restoreInto('r_corrupt', (r) =>
      r.op === 'GetObject' && r.range?.startsWith(`bytes=${3 * PART}-`) ? { kind: 'corrupt', offset: 1000 } : undefined,
    ),
    (e: Error) => e instanceof IntegrityError && /SHA-256/.test(e.message),
  );
  assert.ok(rangesOf(proxy.log.slice(seen)).some((r) => r.action === 'corrupt'));
  assert.equal(await tables('r_corrupt'), 0);
  assert.deepEqual(await readdir(tmp), []);
});

async function verifyIntegrity(rule: FaultRule | undefined): Promise<VerifyReport> {
  proxy.setRule(rule);
  const args = ['--from', `s3://${bucket}/prod`, '--database', 'shop', '--latest', '--integrity-only', '--no-record'];
  const raw = collectRaw('verify', parseCommandArgs('verify', args).values, {});
  return executeVerify(parseVerifyConfig(raw), { store: store(), env: {} });
}

test('verify --integrity-only reads the object as concurrent ranges pinned with If-Match, and judges it equal', async () => {
  const seen = proxy.log.length;
  const report = await verifyIntegrity((r) => (r.op === 'GetObject' && r.range ? { kind: 'delay', ms: 30 } : undefined));
  assert.equal(report.verdict, 'verified', report.summary);
  assert.equal(report.checks.sha256, true);
  const ranges = rangesOf(proxy.log.slice(seen));
  assert.ok(ranges.length > 4, `${ranges.length} ranges`);
  assert.ok(ranges.every((r) => r.status === 206));
  assert.ok(
    ranges.slice(1).every((r) => r.ifMatch !== null),
    'every range after the first is pinned',
  );
  const overlapping = Math.max(...ranges.map((a) => ranges.filter((b) => b.at <= a.at && (b.endedAt ?? Infinity) > a.at).length));
  assert.ok(overlapping >= 2 && overlapping <= 4, `${overlapping} in flight at once`);
});

test('verify --integrity-only: a range corrupted on the way ⇒ failed, SHA-256 named', async () => {
  const report = await verifyIntegrity((r) =>
    r.op === 'GetObject' && r.range?.startsWith(`bytes=${3 * PART}-`) ? { kind: 'corrupt', offset: 1000 } : undefined,
  );
  assert.equal(report.verdict, 'failed');
  assert.equal(report.checks.sha256, false);
  assert.match(report.summary, /SHA-256/);
});
