// Process-side faults (pg_dump lying, dying, stalling; the CLI interrupted) and concurrency. Real CLI, real
// PostgreSQL and pg_dump (or a stand-in pg_dump where the fault cannot be produced with the real one), moto.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli, startCli, type CliResult } from '../../support/cli.ts';
import { startMoto, type MotoServer } from '../../support/moto.ts';
import { startPostgres, type PgServer } from '../../support/postgres.ts';
import { faults, startFaultProxy, type FaultProxy } from '../../support/fault-proxy.ts';
import { FIXTURE_DUMP, fakePgTools } from '../../support/fake-tools.ts';
import { assertActionableFailure, assertBucketInvariants, assertNothingStored, until } from '../../support/invariants.ts';
import { seedShop } from '../../support/dataset.ts';

let moto: MotoServer;
let pg: PgServer;
let work: string;
const proxies: FaultProxy[] = [];

before(async () => {
  [moto, pg] = await Promise.all([startMoto(), startPostgres({ major: 18 })]);
  work = await mkdtemp(path.join(os.tmpdir(), 'rsb-reliability-proc-'));
  await pg.query('create database big');
  await pg.query(
    "create table blob as select i, decode(md5(random()::text) || md5(random()::text), 'hex') as b from generate_series(1, 500000) i",
    'big',
  );
  await seedShop(pg, 'shop', 500);
});
after(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all([moto?.stop(), pg?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { ...pg.env('postgres'), ...moto.env(), ...extra };
}

/** Descendants of `root` (children, grandchildren, ...) from /proc. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [pid, pp] of parent) {
      if (pp === p) {
        out.push(pid);
        walk(pid);
      }
    }
  };
  walk(root);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

const liars: { name: string; body: string; what: RegExp }[] = [
  {
    name: 'exits 0 having written nothing',
    body: 'exit 0',
    what: /pg_dump exited 0 but (wrote nothing|its output is not a complete pg_dump archive)/,
  },
  {
    name: 'exits 0 having written text, not an archive',
    body: 'echo "-- PostgreSQL database dump"; exit 0',
    what: /not a pg_dump archive/,
  },
  {
    name: 'exits 0 with an archive cut inside its table of contents',
    body: `head -c 300 '${FIXTURE_DUMP}'; exit 0`,
    what: /ends inside its table of contents/,
  },
];
for (const liar of liars) {
  test(`pg_dump ${liar.name} ⇒ refused, nothing stored, hint points at the tools`, async () => {
    const tools = await fakePgTools(path.join(work, `liar-${liars.indexOf(liar)}`), liar.body);
    const bucket = await moto.createBucket();
    const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--pgtools-dir', tools], env());
    assertActionableFailure(res, liar.what, /--pgtools-dir|npm run pgtools/);
    await assertNothingStored(moto, bucket);
  });
}

test('pg_dump exits 0 with an archive cut inside its data section ⇒ refused, nothing stored', async () => {
  // The fixture's last bytes are its final data block; cutting them leaves a complete TOC and a truncated block.
  const size = readFileSync(FIXTURE_DUMP).length;
  const tools = await fakePgTools(path.join(work, 'liar-data'), `head -c ${size - 40} '${FIXTURE_DUMP}'; exit 0`);
  const bucket = await moto.createBucket();
  const res = await runCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--pgtools-dir', tools], env());
  assertActionableFailure(res, /not a complete pg_dump archive|truncated|ends inside/, /--pgtools-dir|npm run pgtools/);
  await assertNothingStored(moto, bucket);
});

test('pg_dump crashes (SIGSEGV) after writing its output ⇒ signal named, hint, nothing stored', async () => {
  const tools = await fakePgTools(path.join(work, 'segv'), `cat '${FIXTURE_DUMP}'; kill -SEGV $$`);
  const bucket = await moto.createBucket();
  const res = await runCli(
    ['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--pgtools-dir', tools, '--part-size-mb', '5'],
    env(),
  );
  assertActionableFailure(res, /pg_dump was killed by SIGSEGV/, /killed|run the backup again/);
  await assertNothingStored(moto, bucket);
});

async function interruptMidUpload(
  signal: NodeJS.Signals,
  extraEnv: Record<string, string> = {},
  args: string[] = [],
): Promise<{ res: CliResult; children: number[]; ms: number }> {
  const bucket = await moto.createBucket();
  const cli = startCli(
    ['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--compress', 'none', '--part-size-mb', '5', ...args],
    env(extraEnv),
  );
  await until(async () => ((await moto.listMultipartUploads(bucket)).length > 0 ? true : undefined), 60_000, 'a multipart upload to start');
  const children = descendants(cli.pid!);
  const t0 = Date.now();
  cli.kill(signal);
  const res = await cli.result;
  const ms = Date.now() - t0;
  // Checked right after exit, so the abort happened before the process ended.
  await assertNothingStored(moto, bucket);
  return { res, children, ms };
}

test('SIGINT to the CLI mid-upload ⇒ pg_dump stopped, upload aborted before exit, exit 130', async () => {
  const { res, children } = await interruptMidUpload('SIGINT');
  assert.equal(res.code, 130, res.stderr);
  assert.match(res.stderr, /interrupted by SIGINT: the upload was aborted and no backup was recorded/);
  for (const pid of children) assert.ok(!alive(pid), `child ${pid} outlived the CLI`);
});

test('SIGTERM while the part upload in flight is stalled ⇒ the stalled request is cancelled, upload aborted, prompt exit 130', async () => {
  const p = await startFaultProxy(moto.endpoint, faults.onPart(2, { kind: 'hang' }, 'all'));
  proxies.push(p);
  const bucket = await moto.createBucket();
  const cli = startCli(
    ['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--compress', 'none', '--part-size-mb', '5'],
    env({ AWS_ENDPOINT_URL: p.endpoint }),
  );
  await p.waitFor((e) => e.op === 'UploadPart' && e.partNumber === 2);
  const t0 = Date.now();
  cli.kill('SIGTERM');
  const res = await cli.result;
  const ms = Date.now() - t0;
  assert.equal(res.code, 130, res.stderr);
  assert.ok(ms < 15_000, `exit took ${ms} ms after SIGTERM`);
  assert.ok(
    p.log.some((e) => e.op === 'AbortMultipartUpload' && e.status === 204),
    'the multipart upload was aborted',
  );
  await assertNothingStored(moto, bucket);
});

test('SIGTERM while pg_dump is stuck (no output, never exits) ⇒ pg_dump killed, exit 130, nothing stored', async () => {
  const tools = await fakePgTools(path.join(work, 'stuck'), `head -c 100 '${FIXTURE_DUMP}'; exec sleep 600`);
  const bucket = await moto.createBucket();
  const cli = startCli(['backup', '--to', `s3://${bucket}/p`, '--databases', 'big', '--pgtools-dir', tools], env());
  const [stuck] = await until(
    () => {
      const d = descendants(cli.pid!).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep');
        } catch {
          return false;
        }
      });
      return d.length > 0 ? d : undefined;
    },
    20_000,
    'the stuck pg_dump',
  );
  cli.kill('SIGTERM');
  const res = await cli.result;
  assert.equal(res.code, 130, res.stderr);
  assert.ok(!alive(stuck!), 'the stuck pg_dump was killed');
  await assertNothingStored(moto, bucket);
});

test('two backups of the same database at the same moment ⇒ two distinct complete backups (S3 and file://)', async () => {
  const bucket = await moto.createBucket();
  const dir = path.join(work, 'concurrent');
  for (const to of [`s3://${bucket}/p`, `file://${dir}`]) {
    const runs = await Promise.all([0, 1, 2].map(() => runCli(['backup', '--to', to, '--databases', 'shop', '--json'], env())));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const results = runs.map(
      (r) => (JSON.parse(r.stdout) as { results: { key: string; manifestKey: string; sha256: string }[] }).results[0]!,
    );
    assert.equal(new Set(results.map((r) => r.key)).size, 3, 'distinct data keys');
    assert.equal(new Set(results.map((r) => r.manifestKey)).size, 3, 'distinct manifests');
  }
  const state = await assertBucketInvariants(moto, bucket);
  assert.equal(state.complete.length, 3);
  const list = await runCli(['list', '--from', `file://${dir}`, '--json'], {});
  const listed = JSON.parse(list.stdout) as { backups: { status: string }[]; openUploads: unknown[] };
  assert.deepEqual(
    listed.backups.map((b) => b.status),
    ['complete', 'complete', 'complete'],
  );
  assert.deepEqual(listed.openUploads, []);
  const files = await readdir(path.join(dir, 'shop'));
  assert.equal(files.filter((f) => f.includes('.partial-')).length, 0, 'no temp files left');
});
