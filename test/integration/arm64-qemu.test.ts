// What we ship for arm64, run on this x86_64 host under qemu's user-mode emulator (Debian qemu-user-static,
// installed by scripts/setup-test-deps.sh). No binfmt registration is needed: qemu-aarch64-static runs each arm64
// program's loader explicitly, with the bundle's (or the sysroot's) lib/ as the library path.
//   - the arm64 pg tools bundle: pg_dump of a real PostgreSQL over TCP (verify-full TLS) into a custom archive that
//     the x86_64 pg_restore restores with the same data, and pg_restore --list of an x86_64 archive;
//   - the Lambda function bundle (dist/function.zip) imported and invoked by Node for linux-arm64 with the arm64
//     layer unpacked (scripts/fetch-node-arm64.sh fetches that Node and its C/C++ runtime).
// Not proven here: speed or kernel-level behaviour on real arm64 hardware (Graviton), which qemu does not model.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fingerprint, seedShop } from '../support/dataset.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';
import { prepareLambda, scheduledEvent, type LambdaHarness } from '../support/lambda-runner.ts';
import { packageBundleDir } from '../../src/postgres/tools.ts';
import { EM_AARCH64, elfMachine } from '../support/elf.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const QEMU = 'qemu-aarch64-static';
const ARM = packageBundleDir('arm64');
const X64 = packageBundleDir('x64');

/** argv that runs an arm64 program of the bundle (or any arm64 ELF with `libDir`) under qemu. */
function underQemu(libDir: string, program: string): string[] {
  return [QEMU, path.join(libDir, 'ld-linux-aarch64.so.1'), '--inhibit-cache', '--library-path', libDir, program];
}

function armTool(tool: 'pg_dump' | 'pg_restore', args: string[], env: Record<string, string>): SpawnSyncReturns<string> {
  const [qemu, ...rest] = underQemu(path.join(ARM, 'lib'), path.join(ARM, 'libexec', tool));
  return spawnSync(qemu!, [...rest, ...args], { env: { PATH: '/usr/bin:/bin', ...env }, encoding: 'utf8', timeout: 300_000 });
}

let pg: PgServer;
let work: string;
before(async () => {
  assert.equal(spawnSync(QEMU, ['--version']).status, 0, `${QEMU} missing: run bash scripts/setup-test-deps.sh`);
  for (const tool of ['pg_dump', 'pg_restore'])
    assert.equal(elfMachine(path.join(ARM, 'libexec', tool)), EM_AARCH64, `${ARM}/libexec/${tool} is arm64`);
  pg = await startPostgres({ major: 18, ssl: true });
  await seedShop(pg, 'shop', 1500);
  work = await mkdtemp(path.join(os.tmpdir(), 'rsb-arm64-'));
});
after(async () => {
  await pg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('arm64 pg_dump (under qemu) dumps PostgreSQL 18 over verify-full TLS; the x86_64 pg_restore restores the same data', async () => {
  const file = path.join(work, 'arm64.dump');
  const version = armTool('pg_dump', ['--version'], {});
  assert.match(version.stdout, /^pg_dump \(PostgreSQL\) 18\./, version.stderr);
  const env = pg.env('shop');
  assert.equal(env.PGSSLMODE, 'verify-full');
  const dump = armTool('pg_dump', ['--format=custom', '--no-password', `--file=${file}`], env);
  assert.equal(dump.status, 0, dump.stderr);
  await pg.query('create database shop_restored');
  const restore = spawnSync(path.join(X64, 'bin', 'pg_restore'), ['--no-owner', '--exit-on-error', '-d', 'shop_restored', file], {
    env: pg.env('shop_restored'),
    encoding: 'utf8',
  });
  assert.equal(restore.status, 0, restore.stderr);
  const [original, restored] = [await fingerprint(pg, 'shop'), await fingerprint(pg, 'shop_restored')];
  assert.deepEqual(restored, original);
  assert.match(restored.customers!, /^1500:/);
  assert.match(restored.orders!, /^4500:/);
});

test('arm64 pg_restore --list (under qemu) reads an archive written by the x86_64 pg_dump exactly as the x86_64 pg_restore does', () => {
  const file = path.join(work, 'x64.dump');
  const dump = spawnSync(path.join(X64, 'bin', 'pg_dump'), ['--format=custom', '--no-password', `--file=${file}`], {
    env: pg.env('shop'),
    encoding: 'utf8',
  });
  assert.equal(dump.status, 0, dump.stderr);
  const arm = armTool('pg_restore', ['--list', file], {});
  assert.equal(arm.status, 0, arm.stderr);
  const x64 = execFileSync(path.join(X64, 'bin', 'pg_restore'), ['--list', file], { encoding: 'utf8' });
  assert.equal(arm.stdout, x64);
  assert.match(arm.stdout, /TABLE DATA shop customers /);
  assert.match(arm.stdout, /TABLE DATA shop orders /);
});

let lambda: LambdaHarness | undefined;
after(() => lambda?.dispose());

test('the Lambda function bundle loads and answers an invocation in Node for linux-arm64 (under qemu), with the arm64 layer', () => {
  const nodeDir = execFileSync('bash', [path.join(ROOT, 'scripts', 'fetch-node-arm64.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const node = path.join(nodeDir, 'node', 'bin', 'node');
  const sysroot = path.join(nodeDir, 'sysroot', 'lib');
  assert.equal(elfMachine(node), EM_AARCH64);
  const argv = underQemu(sysroot, node);
  const arch = spawnSync(argv[0]!, [...argv.slice(1), '-p', 'process.arch + " " + process.version'], { encoding: 'utf8' });
  assert.match(arch.stdout, /^arm64 v24\./, arch.stderr);
  lambda = prepareLambda({ layerArch: 'arm64', node: argv });
  assert.equal(elfMachine(path.join(lambda.pgtoolsDir, 'libexec', 'pg_dump')), EM_AARCH64);
  return lambda
    .start(lambda.env({ RDS_S3_BACKUP_TO: 's3://rsb-arm64-proof/p', RDS_S3_BACKUP_COMPRESS: 'brotli' }), [{ event: scheduledEvent() }])
    .done.then((out) => {
      // The module imported (AWS SDK, pg, Powertools bundled) and the handler ran: a typed configuration error
      // naming the variable, and the failure metric, as on x86_64.
      assert.equal(out.results.length, 1, out.stderr);
      const r = out.results[0]!;
      assert.ok(!r.ok, JSON.stringify(r));
      assert.equal(r.error.name, 'ConfigError');
      assert.match(r.error.message, /- RDS_S3_BACKUP_COMPRESS:/);
      assert.match(out.stdout, /"BackupFailed"/);
      assert.ok(existsSync(path.join(lambda!.pgtoolsDir, 'bin', 'pg_dump')));
    });
});
