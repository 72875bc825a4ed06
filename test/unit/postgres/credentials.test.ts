import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libpqEnv, parseRdsSecret, regionForIam, resolveConnection } from '../../../src/postgres/credentials.ts';
import { parseBackupConfig } from '../../../src/core/config/backup-config.ts';
import { collectRaw } from '../../../src/core/config/raw.ts';

const cfg = (flags: Record<string, string>, env: Record<string, string> = {}) =>
  parseBackupConfig(collectRaw('backup', { to: 'file:///x', ...flags }, env));

test('IAM tokens are signed for the database region, not the bucket region', async () => {
  const calls: unknown[] = [];
  const c = cfg(
    { auth: 'iam' },
    { PGHOST: 'app.abc123.eu-central-1.rds.amazonaws.com', PGUSER: 'backup', PGPORT: '5433', AWS_REGION: 'us-east-1' },
  );
  const conn = await resolveConnection(c.connection, c.auth, {
    env: { AWS_REGION: 'us-east-1' },
    signer: async (p) => {
      calls.push(p);
      return 'token-abcdef-123456';
    },
  });
  const env = await libpqEnv(conn);
  assert.deepEqual(calls, [
    { hostname: 'app.abc123.eu-central-1.rds.amazonaws.com', port: 5433, username: 'backup', region: 'eu-central-1' },
  ]);
  assert.equal(env.PGPASSWORD, 'token-abcdef-123456');
  await libpqEnv(conn);
  assert.equal(calls.length, 2, 'a fresh token per connection');
});

test('region precedence: explicit, RDS host name, AWS_REGION', () => {
  assert.equal(regionForIam('ap-south-1', 'x.abc.eu-west-1.rds.amazonaws.com', { AWS_REGION: 'us-east-1' }), 'ap-south-1');
  assert.equal(regionForIam(null, 'x.abc.eu-west-1.rds.amazonaws.com', { AWS_REGION: 'us-east-1' }), 'eu-west-1');
  assert.equal(regionForIam(null, 'x.abc.cn-north-1.rds.amazonaws.com.cn', {}), 'cn-north-1');
  assert.equal(regionForIam(null, 'db.internal', { AWS_REGION: 'us-east-1' }), 'us-east-1');
  assert.equal(regionForIam(null, 'db.internal', {}), null);
});

test('RDS secret shape', () => {
  assert.deepEqual(parseRdsSecret('{"username":"u","password":"p4ss-w0rd","host":"h","port":5432,"dbname":"d","engine":"postgres"}'), {
    username: 'u',
    password: 'p4ss-w0rd',
    host: 'h',
    port: 5432,
    dbname: 'd',
  });
  assert.throws(() => parseRdsSecret('{"username":"u"}'), /no "password"/);
  assert.throws(
    () => parseRdsSecret('not json p4ss'),
    (e: unknown) => e instanceof Error && !e.message.includes('p4ss'),
  );
});

test('the child environment holds only libpq variables', async () => {
  const c = cfg({}, { PGHOST: 'h', PGUSER: 'u', PGPASSWORD: 'pw-123456', PGSSLMODE: 'require' });
  const env = await libpqEnv(
    await resolveConnection(c.connection, c.auth, { env: { AWS_SECRET_ACCESS_KEY: 'x', AWS_ACCESS_KEY_ID: 'y', HOME: '/root' } }),
  );
  assert.deepEqual(Object.keys(env).sort(), [
    'LC_ALL',
    'PATH',
    'PGAPPNAME',
    'PGCONNECT_TIMEOUT',
    'PGHOST',
    'PGPASSWORD',
    'PGPORT',
    'PGSSLMODE',
    'PGUSER',
  ]);
});
