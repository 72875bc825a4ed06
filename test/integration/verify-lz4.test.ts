// verify of an lz4-compressed column (issue 17): the source is Debian's PostgreSQL 15 (built with lz4, as RDS
// is); the throwaway server comes from the embedded packages (built without lz4). Before: FAILED. Now: the
// verify-only script comments out SET COMPRESSION lz4, says so, and the backup is verified by exact row counts.
// Skipped where Debian's postgresql-15 is not installed (DEBIAN_PG15_BIN to point elsewhere).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli.ts';

const BIN = process.env.DEBIAN_PG15_BIN ?? '/usr/lib/postgresql/15/bin';
const available = existsSync(path.join(BIN, 'postgres'));
let base: string;
let dir: string;
let port: number;
let server: ReturnType<typeof spawn> | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** As root the server runs as the OS user postgres (it refuses root). */
function asServerUser(file: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ['setpriv', ['--reuid', 'postgres', '--regid', 'postgres', '--init-groups', file, ...args]]
    : [file, args];
}

function psql(sql: string, db = 'postgres'): string {
  const r = spawnSync(
    path.join(BIN, 'psql'),
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

before(async () => {
  if (!available) return;
  base = await mkdtemp(path.join(os.tmpdir(), 'rsb-lz4-'));
  dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-lz4-store-'));
  if (process.getuid?.() === 0) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    const gr = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    await chown(base, Number(pw), Number(gr));
  }
  const [cmd, args] = asServerUser(path.join(BIN, 'initdb'), [
    '-D',
    path.join(base, 'data'),
    '-U',
    'postgres',
    '--auth=trust',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
  ]);
  const init = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(init.status, 0, init.stderr);
  port = await freePort();
  const [scmd, sargs] = asServerUser(path.join(BIN, 'postgres'), [
    '-D',
    path.join(base, 'data'),
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${base}`,
    '-c',
    'fsync=off',
  ]);
  server = spawn(scmd, sargs, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const t = setTimeout(() => reject(new Error(`Debian PostgreSQL 15 did not start: ${log}`)), 30_000);
    const on = (c: Buffer): void => {
      log += c.toString();
      if (/ready to accept connections/.test(log)) {
        clearTimeout(t);
        resolve();
      }
    };
    server!.stdout!.on('data', on);
    server!.stderr!.on('data', on);
  });
});
after(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGINT');
    await new Promise((r) => server!.once('close', r));
  }
  if (base) await rm(base, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('an lz4 column verifies on a throwaway server without lz4; the adaptation is recorded', {
  skip: !available && 'Debian postgresql-15 not installed',
}, async () => {
  psql('create database packed');
  psql(
    `create table public.docs (id int primary key, body text compression lz4);
     insert into public.docs select i, repeat(md5(i::text), 200) from generate_series(1, 50) i;`,
    'packed',
  );
  assert.equal(psql("select count(*) from public.docs where pg_column_compression(body) = 'lz4'", 'packed'), '50');
  const env = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGSSLMODE: 'disable' };
  const b = await runCli(['backup', '--to', `file://${dir}`, '--databases', 'packed', '--row-counts', '-q'], env);
  assert.equal(b.code, 0, b.stderr);
  const v = await runCli(['verify', '--from', `file://${dir}`, '--database', 'packed', '--latest', '--json'], {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  });
  const json = JSON.parse(v.stdout) as { verdict: string; notes: string[]; summary: string; server: { version: string } };
  assert.equal(json.verdict, 'verified', v.stdout);
  assert.equal(v.code, 0);
  assert.ok(
    json.notes.some((n) => /SET COMPRESSION lz4 \(x1\).*pglz/.test(n)),
    JSON.stringify(json.notes),
  );
  assert.match(json.summary, /exact row counts match \(50 rows\)/);
});
