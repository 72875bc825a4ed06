import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBackupConfig } from '../../../src/core/config/backup-config.ts';
import { collectRaw } from '../../../src/core/config/raw.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { applySelection, parseEvent } from '../../../src/lambda/event.ts';

const scheduled = (detail: unknown = {}, extra: Record<string, unknown> = {}) => ({
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-11-24T03:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:123456789012:rule/nightly'],
  detail,
  ...extra,
});

function rejected(event: unknown): ConfigError {
  try {
    parseEvent(event);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail(`expected ${JSON.stringify(event)} to be rejected`);
}

test('EventBridge scheduled events (rules and Scheduler) and empty inputs run the configured backup', () => {
  const e = parseEvent(scheduled());
  assert.equal(e.kind, 'scheduled');
  assert.equal(e.time, '2026-11-24T03:00:00Z');
  assert.deepEqual(e.selection, { databases: null, globals: null });
  assert.equal(parseEvent({ ...scheduled(), source: 'aws.scheduler' }).kind, 'scheduled');
  for (const empty of [undefined, null, {}]) assert.deepEqual(parseEvent(empty).selection, { databases: null, globals: null });
});

test('a selection may come as the whole input or inside detail', () => {
  assert.deepEqual(parseEvent({ databases: ['app', 'app', 'billing'] }).selection, { databases: ['app', 'billing'], globals: null });
  assert.deepEqual(parseEvent(scheduled({ databases: ['app'], globals: false })).selection, { databases: ['app'], globals: false });
});

test('unknown fields, overrides and credentials are refused with a reason', () => {
  const cases: [unknown, RegExp][] = [
    [{ databases: ['app'], colour: 'blue' }, /unknown field/],
    [{ bucket: 'other-bucket' }, /cannot change where backups go/],
    [{ to: 's3://other/x' }, /cannot change where backups go/],
    [scheduled({ kmsKeyId: 'alias/x' }), /cannot change where backups go/],
    [{ password: 'hunter2hunter2' }, /cannot carry credentials/],
    [{ secretId: 'arn:aws:secretsmanager:x' }, /cannot carry credentials/],
    [scheduled({ PGPASSWORD: 'x' }), /cannot carry credentials/],
    [{ host: 'evil.example.com' }, /connection or dump settings/],
    [{ PGHOST: 'evil.example.com' }, /connection or dump settings/],
    [{ database: 'app' }, /did you mean "databases"/],
    [scheduled({}, { databases: ['app'] }), /inside "detail"/],
    [scheduled({}, { bucket: 'x' }), /not a field of an EventBridge event/],
    [{ ...scheduled(), 'detail-type': 'Object Created' }, /only a schedule starts a backup/],
    [{ databases: [] }, /non-empty list/],
    [{ databases: 'app' }, /non-empty list/],
    [{ databases: ['postgres://u:p@evil/db'] }, /not connection strings/],
    [{ databases: ['host=evil dbname=x'] }, /not connection strings/],
    [{ globals: 'yes' }, /true or false/],
    ['run', /must be a JSON object/],
    [[{ databases: ['app'] }], /not an array/],
  ];
  for (const [event, why] of cases) assert.match(rejected(event).message, why, JSON.stringify(event));
});

test('refused values are never echoed; every refused field is listed', () => {
  const err = rejected({ password: 'Zz-distinctive-1', token: 'Zz-distinctive-2', bucket: 'b' });
  assert.equal(err.issues.length, 3);
  assert.ok(!err.message.includes('Zz-distinctive'));
});

const cfg = (env: Record<string, string>) => parseBackupConfig(collectRaw('backup', {}, { RDS_S3_BACKUP_TO: 's3://bucket-one/x', ...env }));

test('a selection narrows the configured databases and never widens them', () => {
  const listed = cfg({ RDS_S3_BACKUP_DATABASES: 'app,billing', RDS_S3_BACKUP_GLOBALS: 'true' });
  assert.deepEqual(applySelection(listed, { databases: ['billing'], globals: null }).databases, ['billing']);
  assert.equal(applySelection(listed, { databases: null, globals: false }).globals, false);
  assert.equal(applySelection(listed, { databases: null, globals: null }), listed);
  assert.throws(
    () => applySelection(listed, { databases: ['app', 'secret_db'], globals: null }),
    /"secret_db" is not among the configured databases/,
  );
  const all = cfg({ RDS_S3_BACKUP_DATABASES: 'all' });
  assert.deepEqual(applySelection(all, { databases: ['anything'], globals: null }).databases, ['anything']);
  assert.throws(() => applySelection(all, { databases: null, globals: true }), /globals are not configured/);
  assert.ok(Object.isFrozen(applySelection(listed, { databases: ['app'], globals: null })));
});
