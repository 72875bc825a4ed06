import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectRaw } from '../../../../src/core/config/raw.ts';
import { parseRestoreConfig } from '../../../../src/core/config/restore-config.ts';
import { parseVerifyConfig } from '../../../../src/core/config/verify-config.ts';
import { ConfigError } from '../../../../src/core/errors.ts';
import { parseCommandArgs } from '../../../../src/cli/args.ts';

const restore = (argv: string[], env: Record<string, string> = {}) =>
  parseRestoreConfig(collectRaw('restore', parseCommandArgs('restore', argv).values, env));
const verify = (argv: string[], env: Record<string, string> = {}) =>
  parseVerifyConfig(collectRaw('verify', parseCommandArgs('verify', argv).values, env));

function issues(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

test('restore: defaults, selector, target conninfo with its password kept out of everything printable', () => {
  const c = restore([
    '--from',
    's3://bkt/p',
    '--database',
    'app',
    '--latest',
    '--target',
    'postgres://admin:S3cret-pw@db.internal:6432/app_copy?sslmode=require',
  ]);
  assert.deepEqual(c.selector, { by: 'latest' });
  assert.equal(c.singleTransaction, true);
  assert.equal(c.jobs, 1);
  assert.equal(c.target?.database, 'app_copy');
  assert.equal(c.target?.connection.host, 'db.internal');
  assert.equal(c.target?.connection.port, 6432);
  assert.equal(c.target?.connection.password?.reveal(), 'S3cret-pw');
  assert.ok(!JSON.stringify(c).includes('S3cret-pw'));
});

test('restore: libpq variables complete --target (never its host); --at parses a time; lists split on commas', () => {
  const c = restore(
    ['--database', 'app', '--at', '2026-11-20T00:00:00Z', '--target', 'host=h dbname=x', '--table', 'a, sales.b', '--schema', 'sales'],
    {
      RDS_S3_BACKUP_TO: 's3://bkt/p',
      PGHOST: 'production-host',
      PGUSER: 'u',
      PGPASSWORD: 'pw-from-env',
    },
  );
  assert.deepEqual(c.selector, { by: 'at', at: new Date('2026-11-20T00:00:00Z') });
  assert.equal(c.source.url, 's3://bkt/p');
  assert.equal(c.target?.connection.host, 'h');
  assert.equal(c.target?.connection.password?.reveal(), 'pw-from-env');
  assert.deepEqual(c.tables, ['a', 'sales.b']);
  assert.deepEqual(c.schemas, ['sales']);
});

test('restore: the backup must be chosen, exactly one way; a target is required unless --list', () => {
  assert.match(
    issues(() => restore(['--from', 'file:///x', '--database', 'a', '--target', 'host=h dbname=a'])),
    /choose the backup: --latest, --at <time> or --key <key>/,
  );
  assert.match(
    issues(() => restore(['--from', 'file:///x', '--database', 'a', '--latest', '--key', 'k', '--target', 'host=h dbname=a'])),
    /mutually exclusive/,
  );
  assert.match(
    issues(() => restore(['--from', 'file:///x', '--database', 'a', '--latest'])),
    /--target: is required/,
  );
  assert.equal(restore(['--from', 'file:///x', '--database', 'a', '--latest', '--list']).target, null);
  assert.match(
    issues(() => restore(['--from', 'file:///x', '--latest', '--target', 'host=h dbname=a'])),
    /--database: is required/,
  );
});

test('restore: --download-streams is 4 by default, 1 (one GET) to 16', () => {
  const base = ['--from', 's3://bkt/p', '--database', 'a', '--latest', '--target', 'host=h dbname=a', '--jobs', '2'];
  assert.equal(restore(base).downloadStreams, 4);
  assert.equal(restore([...base, '--download-streams', '1']).downloadStreams, 1);
  assert.equal(restore([...base, '--download-streams', '16']).downloadStreams, 16);
  assert.match(
    issues(() => restore([...base, '--download-streams', '0'])),
    /--download-streams/,
  );
  assert.match(
    issues(() => restore([...base, '--download-streams', '17'])),
    /--download-streams/,
  );
});

test('restore: --jobs turns off the single transaction, and refuses an explicit --single-transaction', () => {
  assert.equal(
    restore(['--from', 'file:///x', '--database', 'a', '--latest', '--target', 'host=h dbname=a', '--jobs', '4']).singleTransaction,
    false,
  );
  assert.match(
    issues(() =>
      restore(['--from', 'file:///x', '--database', 'a', '--latest', '--target', 'host=h dbname=a', '--jobs', '4', '--single-transaction']),
    ),
    /--jobs: cannot be combined/,
  );
  assert.equal(
    restore(['--from', 'file:///x', '--database', 'a', '--latest', '--target', 'host=h dbname=a', '--no-single-transaction'])
      .singleTransaction,
    false,
  );
  assert.match(
    issues(() => restore(['--from', 'file:///x', '--database', 'a', '--latest', '--target', 'host=h dbname=a', '--create', '--clean'])),
    /--clean: cannot be combined with --create/,
  );
});

test('verify: a target is optional (throwaway server by default); --no-record', () => {
  const c = verify(['--from', 's3://bkt/p', '--database', 'app', '--latest', '--no-record'], { PGHOST: 'prod-db' });
  assert.equal(c.target, null, 'ambient PGHOST never makes verify touch a server');
  assert.equal(c.record, false);
  assert.equal(c.integrityOnly, false);
  assert.equal(verify(['--from', 's3://bkt/p', '--key', 'p/app/20261124T031500Z-0a0b0c0d.dump', '--integrity-only']).integrityOnly, true);
});
