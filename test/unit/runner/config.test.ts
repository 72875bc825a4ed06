import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/core/errors.ts';
import {
  bundledCaFile,
  CA_BUNDLE_FILE,
  DEFAULT_ABORT_MARGIN_MS,
  parseInstanceRef,
  parseLambdaConfig,
  withEndpoint,
} from '../../../src/runner/config.ts';

const CA = path.join(mkdtempSync(path.join(tmpdir(), 'lambda-config-')), 'ca.pem');
writeFileSync(CA, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
const SECRET = 'Zz-very-distinctive-Pa55';

const base = {
  RDS_S3_BACKUP_TO: 's3://backups-bucket/prod',
  PGHOST: 'db.abc123.eu-west-1.rds.amazonaws.com',
  PGUSER: 'backup',
  PGSSLROOTCERT: CA,
};

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('Lambda defaults: IAM auth, verify-full, 30 s abort margin', () => {
  const c = parseLambdaConfig(base);
  assert.equal(c.backup.auth.mode, 'iam');
  assert.equal(c.backup.connection.sslmode, 'verify-full');
  assert.equal(c.backup.connection.sslrootcert, CA);
  assert.equal(c.lambda.abortMarginMs, DEFAULT_ABORT_MARGIN_MS);
  assert.equal(c.lambda.instance, null);
  assert.equal(c.lambda.earlyAbort, true);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.backup) && Object.isFrozen(c.lambda));
});

test('a configured secret selects secret auth, as in the CLI', () => {
  const c = parseLambdaConfig({ ...base, RDS_S3_BACKUP_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf' });
  assert.equal(c.backup.auth.mode, 'secret');
});

test('the CA file defaults to the bundled RDS CAs in the task root only for verify-*; require keeps no root cert', () => {
  const err = errorOf(() => parseLambdaConfig({ ...base, PGSSLROOTCERT: '' }));
  assert.deepEqual(
    err.issues.map((i) => i.field),
    ['PGSSLROOTCERT'],
  );
  assert.match(err.message, /\/var\/task\/rds-ca-bundle\.pem does not exist/);
  // LAMBDA_TASK_ROOT (set by Lambda, and by a container image) decides where the bundle is looked for.
  const root = path.dirname(CA);
  writeFileSync(path.join(root, CA_BUNDLE_FILE), readFileSync(CA));
  const withRoot = parseLambdaConfig({ ...base, PGSSLROOTCERT: undefined, LAMBDA_TASK_ROOT: root });
  assert.equal(withRoot.backup.connection.sslrootcert, path.join(root, CA_BUNDLE_FILE));
  assert.equal(bundledCaFile({}), '/var/task/rds-ca-bundle.pem');
  // An explicit PGSSLROOTCERT still wins.
  assert.equal(parseLambdaConfig({ ...base, LAMBDA_TASK_ROOT: root }).backup.connection.sslrootcert, CA);
  const c = parseLambdaConfig({ ...base, PGSSLROOTCERT: '', PGSSLMODE: 'require' });
  assert.equal(c.backup.connection.sslmode, 'require');
  assert.equal(c.backup.connection.sslrootcert, null);
});

test('passwords in the environment and password auth are refused without echoing the value', () => {
  const err = errorOf(() => parseLambdaConfig({ ...base, PGPASSWORD: SECRET, RDS_S3_BACKUP_AUTH: 'password' }));
  const fields = err.issues.map((i) => i.field);
  assert.ok(fields.includes('PGPASSWORD') && fields.includes('RDS_S3_BACKUP_AUTH'), fields.join(', '));
  assert.ok(!err.message.includes(SECRET));
});

test('every bad variable is named by its environment name', () => {
  const err = errorOf(() =>
    parseLambdaConfig({
      RDS_S3_BACKUP_TO: 'file:///tmp/x',
      PGSSLROOTCERT: CA,
      RDS_S3_BACKUP_COMPRESS: 'zstd:99',
      RDS_S3_BACKUP_ABORT_MARGIN_SECONDS: '2',
      PGPORT: 'x',
    }),
  );
  const fields = err.issues.map((i) => i.field).sort();
  assert.deepEqual(
    fields,
    ['PGHOST', 'PGPORT', 'PGUSER', 'RDS_S3_BACKUP_ABORT_MARGIN_SECONDS', 'RDS_S3_BACKUP_COMPRESS', 'RDS_S3_BACKUP_TO'].sort(),
  );
  assert.ok(!err.message.includes('--'), 'no CLI flags in Lambda errors');
});

test('RDS instance identifier mode: identifier or ARN, never together with PGHOST/PGPORT', () => {
  const { PGHOST: _h, ...noHost } = base;
  const c = parseLambdaConfig({ ...noHost, RDS_S3_BACKUP_DB_INSTANCE_ID: 'prod-db-1' });
  assert.deepEqual(c.lambda.instance, { id: 'prod-db-1', region: null });
  const arn = parseLambdaConfig({ ...noHost, RDS_S3_BACKUP_DB_INSTANCE_ID: 'arn:aws:rds:eu-central-1:123456789012:db:prod-db-1' });
  assert.deepEqual(arn.lambda.instance, { id: 'arn:aws:rds:eu-central-1:123456789012:db:prod-db-1', region: 'eu-central-1' });
  const err = errorOf(() => parseLambdaConfig({ ...base, PGPORT: '5432', RDS_S3_BACKUP_DB_INSTANCE_ID: 'prod-db-1' }));
  assert.deepEqual(err.issues.map((i) => i.field).sort(), ['PGHOST', 'PGPORT']);
  for (const bad of ['1db', 'db_1', 'db--1', 'db-', 'arn:aws:rds:eu-west-1:123:db:x', 'a'.repeat(64)]) {
    assert.equal(typeof parseInstanceRef(bad), 'string', bad);
  }
});

test('withEndpoint fills host and port into a frozen copy', () => {
  const { PGHOST: _h, ...noHost } = base;
  const c = parseLambdaConfig({ ...noHost, RDS_S3_BACKUP_DB_INSTANCE_ID: 'prod-db-1' });
  const b = withEndpoint(c.backup, 'prod-db-1.abc.eu-west-1.rds.amazonaws.com', 5433);
  assert.equal(b.connection.host, 'prod-db-1.abc.eu-west-1.rds.amazonaws.com');
  assert.equal(b.connection.port, 5433);
  assert.equal(c.backup.connection.host, null);
  assert.ok(Object.isFrozen(b) && Object.isFrozen(b.connection));
});

test('RDS_S3_BACKUP_EARLY_ABORT: true or false (any case); anything else is named', () => {
  assert.equal(parseLambdaConfig({ ...base, RDS_S3_BACKUP_EARLY_ABORT: 'false' }).lambda.earlyAbort, false);
  assert.equal(parseLambdaConfig({ ...base, RDS_S3_BACKUP_EARLY_ABORT: 'TRUE' }).lambda.earlyAbort, true);
  const err = errorOf(() => parseLambdaConfig({ ...base, RDS_S3_BACKUP_EARLY_ABORT: 'no' }));
  assert.deepEqual(
    err.issues.map((i) => i.field),
    ['RDS_S3_BACKUP_EARLY_ABORT'],
  );
});
