// A server posing as the database (anyone on the network path, or a typo'd host) asks for the password in
// cleartext or as MD5. Before: the CLI's default sslmode=prefer accepted a server that declines TLS, and pg,
// pg_dump and psql all answered. Now: refused, the reason named, the password never on the wire.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../support/cli.ts';
import { startFakePgServer, type FakePgServer } from '../../support/fake-pg-server.ts';
import { testManifest } from '../../support/fixture-store.ts';
import { backupKeys } from '../../../src/core/catalog/keys.ts';
import { serializeManifest } from '../../../src/core/catalog/manifest.ts';
import { libpqEnv, resolveConnection } from '../../../src/postgres/credentials.ts';
import { locatePgTools } from '../../../src/postgres/tools.ts';
import { parseRestoreConfig } from '../../../src/core/config/restore-config.ts';

const PASSWORD = 'Pw-4-the-real-server-only';
let dir: string;
let store: string;

before(async () => {
  // One restorable backup, so restore gets as far as connecting.
  dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-fakepg-'));
  const root = path.join(dir, 'store');
  const archive = readFileSync(new URL('../../fixtures/pg18-small.dump', import.meta.url));
  const id = '20261124T030000Z-0000000a';
  const k = backupKeys('', 'database', 'app', id);
  const m = testManifest({ key: k.data, body: archive, id, contentType: 'x' });
  await mkdir(path.join(root, 'app'), { recursive: true });
  await writeFile(path.join(root, k.data), archive);
  await writeFile(path.join(root, k.manifest), serializeManifest(m));
  store = `file://${root}`;
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function withFake<T>(ask: 'cleartext' | 'md5', fn: (f: FakePgServer) => Promise<T>): Promise<T> {
  const f = await startFakePgServer(ask);
  try {
    return await fn(f);
  } finally {
    await f.stop();
  }
}

const md5Of = (pw: string, user: string): string =>
  createHash('md5')
    .update(pw + user)
    .digest('hex');

for (const ask of ['cleartext', 'md5'] as const) {
  test(`restore and backup refuse a ${ask} password request from a server whose certificate was not verified`, async () => {
    await withFake(ask, async (fake) => {
      const env = { PGPASSWORD: PASSWORD, PGUSER: 'app', PGHOST: '127.0.0.1', PGPORT: String(fake.port) };
      const restore = await runCli(
        ['restore', '--from', store, '--database', 'app', '--latest', '--target', 'host=127.0.0.1 dbname=app'],
        env,
      );
      assert.equal(restore.code, 1, restore.stderr);
      assert.match(
        restore.stderr,
        new RegExp(
          `refusing to send the password to 127\\.0\\.0\\.1:${fake.port}: the server asked for (a cleartext password|an MD5 password hash), and its TLS certificate was not verified`,
        ),
      );
      assert.match(restore.stderr, /--allow-unverified-password/);
      const backup = await runCli(['backup', '--to', store, '--databases', 'app'], env);
      assert.equal(backup.code, 1, backup.stderr);
      assert.match(backup.stderr, /refusing to send the password/);
      const wire = fake.received().toString('latin1');
      assert.ok(wire.includes('app'), 'the startup message arrived (the test reaches the server)');
      assert.ok(!wire.includes(PASSWORD) && !wire.includes(md5Of(PASSWORD, 'app')), 'the password reached the socket');
    });
  });
}

test('pg_dump/psql (libpq) get require_auth and refuse the same request; the override sends it, as before', async () => {
  const tools = await locatePgTools(null, {});
  await withFake('cleartext', async (fake) => {
    const cfg = parseRestoreConfig({
      from: store,
      database: 'app',
      latest: true,
      target: `host=127.0.0.1 port=${fake.port} user=app dbname=app`,
      password: PASSWORD,
    });
    const conn = await resolveConnection(cfg.target!.connection, cfg.target!.auth, { env: {} });
    const env = await libpqEnv(conn);
    assert.equal(env.PGREQUIREAUTH, '!password,!md5');
    const psql = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(tools.psql, ['--no-psqlrc', '-c', 'select 1'], { env });
      let stderr = '';
      p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      p.on('close', (code) => resolve({ code, stderr }));
    });
    assert.notEqual(psql.code, 0);
    assert.match(psql.stderr, /server requested a cleartext password/);
    assert.ok(!fake.received().toString('latin1').includes(PASSWORD));
  });
  // The override is the old behaviour: the password goes out in cleartext to whoever asks.
  await withFake('cleartext', async (fake) => {
    const env = { PGPASSWORD: PASSWORD, PGUSER: 'app', PGHOST: '127.0.0.1', PGPORT: String(fake.port) };
    const res = await runCli(
      ['restore', '--from', store, '--database', 'app', '--latest', '--target', 'host=127.0.0.1 dbname=app', '--allow-unverified-password'],
      env,
    );
    assert.equal(res.code, 1);
    assert.ok(fake.received().toString('latin1').includes(PASSWORD), 'with the override the password is sent');
  });
});
