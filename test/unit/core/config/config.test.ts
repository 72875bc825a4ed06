import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBackupConfig } from '../../../../src/core/config/backup-config.ts';
import { parseListConfig } from '../../../../src/core/config/list-config.ts';
import { parseRestoreConfig } from '../../../../src/core/config/restore-config.ts';
import { collectRaw } from '../../../../src/core/config/raw.ts';
import { ConfigError } from '../../../../src/core/errors.ts';

const SECRET = 'Sup3r-Secret-Pa55';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('flags win over environment; libpq variables are read', () => {
  const raw = collectRaw(
    'backup',
    { to: 's3://bucket-one/prod/' },
    { RDS_S3_BACKUP_TO: 's3://other/x', PGHOST: 'db.local', PGPORT: '6543', PGUSER: 'backup', PGPASSWORD: SECRET },
  );
  const c = parseBackupConfig(raw);
  assert.equal(c.target.kind, 's3');
  assert.equal(c.target.url, 's3://bucket-one/prod');
  assert.equal(c.connection.host, 'db.local');
  assert.equal(c.connection.port, 6543);
  assert.equal(c.connection.password?.reveal(), SECRET);
  assert.deepEqual(c.databases, ['postgres']);
  assert.equal(c.compression, 'zstd:1');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.connection));
  assert.ok(!JSON.stringify(c).includes(SECRET), 'config serialisation must not reveal the password');
});

test('every bad field is named, and no secret is echoed', () => {
  const raw = collectRaw(
    'backup',
    { to: 'ftp://x', compress: 'zstd:99', queueSize: '0', databases: ',,', sslmode: 'verify-full' },
    { PGPASSWORD: SECRET, PGPORT: 'abc' },
  );
  const err = errorOf(() => parseBackupConfig(raw));
  const fields = err.issues.map((i) => i.field).join(' | ');
  for (const f of ['--to', '--compress', '--queue-size', '--databases', '--port', '--sslrootcert'])
    assert.ok(fields.includes(f), `${f} missing in ${fields}`);
  assert.ok(!err.message.includes(SECRET));
  assert.equal(err.exitCode, 2);
});

test('conninfo in --dbname: password never needs argv to reach pg_dump, flags override it', () => {
  const c = parseBackupConfig(
    collectRaw(
      'backup',
      { to: 'file:///tmp/x', dbname: `postgres://u:${encodeURIComponent(SECRET)}@h:5433/app?sslmode=require`, host: 'override' },
      {},
    ),
  );
  assert.equal(c.connection.host, 'override');
  assert.equal(c.connection.port, 5433);
  assert.equal(c.connection.database, 'app');
  assert.equal(c.connection.password?.reveal(), SECRET);
  assert.equal(c.connection.sslmode, 'require');
  assert.deepEqual(c.databases, ['app']);
});

test('hostaddr and application_name in a conninfo are refused by name, never dropped or turned into host', () => {
  // libpq connects to hostaddr but checks TLS and the password file against host; application_name is ours (a
  // restore finds its own session by it). Silently using hostaddr as host, or dropping either, would not do what
  // the user asked.
  for (const dbname of [
    'host=db.example.com hostaddr=10.0.0.5 dbname=app',
    'postgres://u@db.example.com/app?hostaddr=10.0.0.5',
    'hostaddr=10.0.0.5 dbname=app',
  ]) {
    const err = errorOf(() => parseBackupConfig(collectRaw('backup', { to: 'file:///x', dbname }, {})));
    assert.match(err.message, /hostaddr is not supported/, dbname);
  }
  for (const dbname of ['host=h application_name=mine dbname=app', 'postgres://u@h/app?application_name=mine']) {
    const err = errorOf(() => parseBackupConfig(collectRaw('backup', { to: 'file:///x', dbname }, {})));
    assert.match(err.message, /application_name is not supported/, dbname);
  }
  const restore = errorOf(() =>
    parseRestoreConfig(
      collectRaw('restore', { from: 'file:///x', latest: true, database: 'app', target: 'host=h hostaddr=10.0.0.5 dbname=copy' }, {}),
    ),
  );
  assert.match(restore.message, /hostaddr is not supported/);
});

test('databases: all, lists, hostile names', () => {
  assert.equal(parseBackupConfig(collectRaw('backup', { to: 'file:///x', databases: 'ALL' }, {})).databases, 'all');
  assert.deepEqual(parseBackupConfig(collectRaw('backup', { to: 'file:///x', databases: 'a, b,a' }, {})).databases, ['a', 'b']);
  errorOf(() => parseBackupConfig(collectRaw('backup', { to: 'file:///x', databases: 'ok,bad\u0001name' }, {})));
  errorOf(() => parseBackupConfig(collectRaw('backup', { to: 'file:///x', databases: 'x'.repeat(64) }, {})));
});

test('targets refuse traversal and bad buckets', () => {
  for (const to of [
    'file://relative/path',
    'file:///a/../etc',
    's3://B_ad/x',
    's3://ok-bucket/a/../b',
    's3://ok-bucket/a\u0007b',
    'http://x',
  ]) {
    errorOf(() => parseBackupConfig(collectRaw('backup', { to }, {})));
  }
  const c = parseBackupConfig(collectRaw('backup', { to: 'file:///var/backups/pg/' }, {}));
  assert.equal(c.target.kind === 'file' && c.target.root, '/var/backups/pg');
});

test('auth modes', () => {
  const s = parseBackupConfig(
    collectRaw('backup', { to: 'file:///x' }, { RDS_S3_BACKUP_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:1:secret:db' }),
  );
  assert.deepEqual(s.auth, { mode: 'secret', secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:db' });
  const i = parseBackupConfig(collectRaw('backup', { to: 'file:///x', auth: 'iam', dbRegion: 'eu-west-1' }, {}));
  assert.deepEqual(i.auth, { mode: 'iam', region: 'eu-west-1' });
  errorOf(() => parseBackupConfig(collectRaw('backup', { to: 'file:///x', auth: 'secret' }, {})));
  errorOf(() => parseBackupConfig(collectRaw('backup', { to: 'file:///x', auth: 'kerberos' }, {})));
});

test('list reads RDS_S3_BACKUP_TO when --from is absent and validates dates', () => {
  const c = parseListConfig(collectRaw('list', { since: '2026-11-01' }, { RDS_S3_BACKUP_TO: 's3://bucket-one/p' }));
  assert.equal(c.target.url, 's3://bucket-one/p');
  assert.deepEqual(c.since, new Date('2026-11-01'));
  errorOf(() => parseListConfig(collectRaw('list', { since: 'yesterday' }, { RDS_S3_BACKUP_TO: 's3://bucket-one/p' })));
});
