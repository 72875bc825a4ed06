// Hostile bucket content against restore and verify, with real parts: PostgreSQL 18, the bundled psql and
// pg_restore 18, a file:// store, the CLI as users run it. Each attack ran on the code before the fix (see
// docs/security.md); now nothing from the object runs and the error says why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../support/cli.ts';
import { seedShop } from '../../support/dataset.ts';
import { startPostgres, type PgServer } from '../../support/postgres.ts';
import { parseManifest, serializeManifest, type Manifest } from '../../../src/core/catalog/manifest.ts';

let pg: PgServer;
let dir: string;
let store: string;
type Listed = { id: string; kind: string; database: string | null; key: string; manifestKey: string };

function env(): Record<string, string> {
  const e = pg.env('postgres');
  return { PGPASSWORD: e.PGPASSWORD!, PGUSER: e.PGUSER!, PGHOST: e.PGHOST!, PGPORT: e.PGPORT! };
}

async function listed(): Promise<Listed[]> {
  const res = await runCli(['list', '--from', store, '--json'], {});
  assert.equal(res.code, 0, res.stderr);
  return (JSON.parse(res.stdout) as { backups: Listed[] }).backups;
}

/** Replaces an object and rewrites its manifest to match: what anyone with write access to the bucket can do. */
async function plant(b: Listed, body: Buffer): Promise<void> {
  const root = store.slice('file://'.length);
  await writeFile(path.join(root, b.key), body);
  const m = parseManifest(await readFile(path.join(root, b.manifestKey), 'utf8')) as Manifest;
  const next: Manifest = { ...m, object: { ...m.object, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') } };
  await writeFile(path.join(root, b.manifestKey), serializeManifest(next));
}

before(async () => {
  pg = await startPostgres({ major: 18 });
  dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-hostile-'));
  store = `file://${path.join(dir, 'store')}`;
  await seedShop(pg, 'shop', 50);
  await pg.query('create database victim_src');
  await pg.query('create table t (v int); insert into t values (1), (2)', 'victim_src');
  const res = await runCli(['backup', '--to', store, '--databases', 'shop,victim_src', '--globals'], pg.env('postgres'));
  assert.equal(res.code, 0, res.stderr);
  // --create restores under the original name: the source must be gone for that test.
  await pg.query('drop database victim_src');
});
after(async () => {
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a planted globals object with \\! runs nothing: not through restore --globals, not through verify', async () => {
  const g = (await listed()).find((b) => b.kind === 'globals')!;
  const marker = path.join(dir, 'pwned');
  const original = await readFile(path.join(dir, 'store', g.key), 'utf8');
  // Where an attacker would put it: among the statements, after pg_dumpall's own \restrict line.
  await plant(g, Buffer.from(original.replace(/^(CREATE ROLE .*)$/m, `$1\n\\! touch ${marker}`)));

  const restore = await runCli(['restore', '--from', store, '--globals', '--latest', '--target', `host=${pg.host} dbname=postgres`], env());
  assert.equal(restore.code, 1, restore.stderr);
  assert.match(restore.stderr, /globals backup \S+ contains psql meta-commands .* nothing was applied/);
  assert.match(restore.stderr, /line \d+: \\! touch/);
  assert.equal(existsSync(marker), false, 'the shell command ran');

  // verify uses the nearest globals backup on its own, but runs none of it: it only takes the role names from
  // its CREATE ROLE lines (created without attributes), so the meta-command has nothing to run in.
  const verify = await runCli(['verify', '--from', store, '--database', 'shop', '--latest', '--json'], {});
  assert.equal(existsSync(marker), false, 'the shell command ran through verify');
  const notes = (JSON.parse(verify.stdout) as { notes: string[] }).notes.join('\n');
  assert.match(notes, /roles from globals backup .* created by name/);
});

test('a tampered DATABASE entry with --create runs nothing: no role created, no database, target untouched', async () => {
  const b = (await listed()).find((x) => x.database === 'victim_src')!;
  const file = path.join(dir, 'store', b.key);
  const bytes = await readFile(file);
  // The DATABASE entry's CREATE DATABASE statement, rewritten in place (same length: the TOC still parses).
  const text = bytes.toString('latin1');
  const at = text.indexOf('CREATE DATABASE victim_src');
  assert.ok(at > 0, 'DATABASE entry found');
  const end = text.indexOf(';', at) + 1;
  const payload = 'CREATE DATABASE victim_src; CREATE ROLE evil SUPERUSER;';
  assert.ok(payload.length <= end - at);
  const evil = Buffer.from(bytes);
  evil.write(payload + ' '.repeat(end - at - payload.length), at, 'latin1');
  // Only the object changes (the manifest keeps the genuine SHA-256): the hash check must come first.
  await writeFile(file, evil);
  const rolesBefore = await pg.query<{ rolname: string }>('select rolname from pg_roles order by 1');

  const res = await runCli(
    ['restore', '--from', store, '--database', 'victim_src', '--latest', '--create', '--target', `host=${pg.host} dbname=postgres`],
    env(),
  );
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /SHA-256/);
  assert.deepEqual(await pg.query('select rolname from pg_roles order by 1'), rolesBefore);
  assert.deepEqual(await pg.query("select 1 from pg_database where datname = 'victim_src'"), []);

  // Same for --no-single-transaction into an existing database: nothing restored.
  await pg.query('create database victim_into');
  const per = await runCli(
    [
      'restore',
      '--from',
      store,
      '--database',
      'victim_src',
      '--latest',
      '--no-single-transaction',
      '--target',
      `host=${pg.host} dbname=victim_into`,
    ],
    env(),
  );
  assert.equal(per.code, 1, per.stderr);
  assert.deepEqual(await pg.query("select tablename from pg_tables where schemaname = 'public'", 'victim_into'), []);
  assert.deepEqual(await pg.query("select 1 from pg_roles where rolname = 'evil'"), []);
});
