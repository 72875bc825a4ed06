// The CLI's connection defaults: what a user gets without saying anything about TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBackupConfig } from '../../../src/core/config/backup-config.ts';
import { isLocalHost, tlsDefaults } from '../../../src/core/config/tls-defaults.ts';
import { passwordNeedsScram } from '../../../src/postgres/credentials.ts';
import { assertRequireAuthSupport } from '../../../src/postgres/tools-restrict.ts';

const to = 'file:///tmp/x';

test('local or remote', () => {
  for (const h of [null, '', 'localhost', '127.0.0.1', '127.5.0.1', '::1', '[::1]', '/var/run/postgresql', '/tmp,localhost'])
    assert.equal(isLocalHost(h), true, String(h));
  for (const h of ['db.example.com', '10.0.0.5', '192.168.1.2', 'localhost.evil.com', '::2', 'localhost,db.example.com'])
    assert.equal(isLocalHost(h), false, h);
});

// Before: sslmode=prefer everywhere, no certificate check, any password kind answered.
test('defaults: verify-full (system CAs) for a remote host and with iam/secret; prefer locally', () => {
  const cases: [Record<string, string>, string, string | null][] = [
    [{ host: 'db.example.com' }, 'verify-full', 'system'],
    [{ host: 'db.example.com', sslrootcert: '/etc/rds-ca.pem' }, 'verify-full', '/etc/rds-ca.pem'],
    [{ host: '127.0.0.1' }, 'prefer', null],
    [{ host: '127.0.0.1', auth: 'iam', user: 'u', dbRegion: 'eu-west-1' }, 'verify-full', 'system'],
    [{ host: '127.0.0.1', secretId: 'arn:x' }, 'verify-full', 'system'],
    // Explicit choices are kept, except that a root certificate means a checked certificate (as libpq).
    [{ host: 'db.example.com', sslmode: 'require' }, 'require', null],
    [{ host: 'db.example.com', sslmode: 'require', sslrootcert: '/ca.pem' }, 'verify-ca', '/ca.pem'],
    [{ host: '127.0.0.1', sslmode: 'prefer', sslrootcert: '/ca.pem' }, 'verify-ca', '/ca.pem'],
    [{ host: '127.0.0.1', sslmode: 'prefer', sslrootcert: 'system' }, 'verify-full', 'system'],
    [{ host: 'db.example.com', sslmode: 'disable' }, 'disable', null],
    [{ host: '127.0.0.1', sslmode: 'allow', sslrootcert: '' }, 'allow', null],
  ];
  for (const [raw, mode, root] of cases) {
    const c = parseBackupConfig({ to, ...raw });
    assert.equal(c.connection.sslmode, mode, JSON.stringify(raw));
    assert.equal(c.connection.sslrootcert, root, JSON.stringify(raw));
  }
  assert.deepEqual(tlsDefaults({ host: null, sslmode: undefined, sslrootcert: undefined, authMode: 'password' }).sslmode, 'prefer');
});

test('cleartext/MD5 only to a verified server or over a Unix socket, unless --allow-unverified-password', () => {
  const need = (raw: Record<string, string | boolean>): boolean => {
    const c = parseBackupConfig({ to, ...raw }).connection;
    return passwordNeedsScram({ host: c.host, sslmode: c.sslmode, allowUnverifiedPassword: c.allowUnverifiedPassword });
  };
  assert.equal(need({ host: '127.0.0.1' }), true);
  assert.equal(need({ host: 'db.example.com', sslmode: 'require' }), true);
  assert.equal(need({ host: 'db.example.com' }), false, 'verify-full');
  assert.equal(need({ host: '/var/run/postgresql' }), false, 'Unix socket');
  assert.equal(need({ host: '127.0.0.1', allowUnverifiedPassword: true }), false);
  const old = { source: 'path', dir: null, pgDump: '', pgDumpall: '', pgRestore: '', psql: '', version: '15.14', major: 15 } as const;
  assert.throws(() => assertRequireAuthSupport(old, true), /require_auth needs PostgreSQL 16/);
  assert.doesNotThrow(() => assertRequireAuthSupport(old, false));
});
