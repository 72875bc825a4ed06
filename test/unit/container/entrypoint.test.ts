import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { parseContainerBackupConfig, parseDrillConfig } from '../../../src/container/config.ts';
import { runContainer } from '../../../src/container/main.ts';
import { watchShutdown } from '../../../src/container/shutdown.ts';
import { createContainerTelemetry, emfToDatums } from '../../../src/container/telemetry.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { publishDatabaseMetrics } from '../../../src/runner/telemetry.ts';

const capture = () => {
  let text = '';
  return { write: (t: string) => (text += t), text: () => text };
};

test('--version prints the tool and Node versions and exits 0 without reading any configuration', async () => {
  const out = capture();
  assert.equal(await runContainer(['--version'], { env: {}, stdout: out }), 0);
  assert.match(out.text(), /^rds-s3-backup \S+ \(container; node v\d+/);
});

test('flags or unknown commands exit 2: the environment is the only configuration channel', async () => {
  const sink = async (): Promise<void> => undefined;
  assert.equal(await runContainer(['backup', '--to', 's3://x'], { env: {}, metricSink: sink }), 2);
  assert.equal(await runContainer(['restore'], { env: {}, metricSink: sink }), 2);
});

test('an invalid environment exits 2, counts BackupFailed, and names every bad variable', async () => {
  const sent: { namespace: string; data: readonly MetricDatum[] }[] = [];
  const signals = new EventEmitter();
  const code = await runContainer([], {
    env: { RDS_S3_BACKUP_TO: 'ftp://x', PGPASSWORD: 'secret-pw-123' },
    signals: signals as never,
    metricSink: async (namespace, data) => void sent.push({ namespace, data }),
  });
  assert.equal(code, 2);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.namespace, 'RdsS3Backup');
  assert.deepEqual(
    sent[0]!.data.map((d) => [d.MetricName, d.Value, d.Dimensions]),
    [['BackupFailed', 1, [{ Name: 'service', Value: 'rds-s3-backup' }]]],
  );
  assert.equal(signals.listenerCount('SIGTERM'), 0, 'signal handlers are removed after the run');
});

test('backup config: the image CA bundle is the verify-full default, an explicit one wins, weaker modes get none', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsb-ca-'));
  try {
    const ca = path.join(dir, 'rds.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    const base = { RDS_S3_BACKUP_TO: 's3://backups-bucket/p', PGHOST: 'db.example', PGUSER: 'backup' };
    assert.equal(parseContainerBackupConfig(base, ca).backup.connection.sslrootcert, ca);
    assert.equal(parseContainerBackupConfig({ ...base, PGSSLROOTCERT: ca }, '/nonexistent').backup.connection.sslrootcert, ca);
    assert.equal(parseContainerBackupConfig({ ...base, PGSSLMODE: 'require' }, ca).backup.connection.sslrootcert, null);
    // Missing CA file for verify-full: a clear configuration error, not a TLS failure at connect time.
    assert.throws(
      () => parseContainerBackupConfig(base, path.join(dir, 'missing.pem')),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.field === 'PGSSLROOTCERT'),
    );
    // Passwords in the task definition are refused as on Lambda.
    assert.throws(
      () => parseContainerBackupConfig({ ...base, PGPASSWORD: 'x' }, ca),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.field === 'PGPASSWORD'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('drill config: databases from RDS_S3_BACKUP_DATABASES, source from FROM or TO, no connection settings needed', () => {
  const c = parseDrillConfig({
    RDS_S3_BACKUP_TO: 's3://bucket/prod',
    RDS_S3_BACKUP_DATABASES: 'shop, app,shop',
    PGHOST: 'ignored',
    PGUSER: 'ignored',
  });
  assert.deepEqual(c.databases, ['shop', 'app']);
  const v = c.forDatabase('shop');
  assert.equal(v.source.url, 's3://bucket/prod');
  assert.deepEqual(v.selector, { by: 'latest' });
  assert.equal(v.record, true);
  assert.equal(v.target, null, 'a throwaway server, never a configured one');
  assert.equal(parseDrillConfig({ RDS_S3_BACKUP_FROM: 's3://backups-bucket/x', RDS_S3_BACKUP_DATABASES: 'all' }).databases, null);
  assert.throws(
    () => parseDrillConfig({}),
    (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.field === 'RDS_S3_BACKUP_FROM'),
  );
  assert.throws(
    () => parseDrillConfig({ RDS_S3_BACKUP_FROM: 'ftp://x' }),
    (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.field === 'RDS_S3_BACKUP_FROM'),
  );
});

test('SIGTERM aborts once; a second signal is ignored; the hard stop fires only if cleanup hangs', async () => {
  const signals = new EventEmitter();
  const s = watchShutdown(signals as never, 50);
  assert.equal(s.signal.aborted, false);
  signals.emit('SIGTERM', 'SIGTERM');
  assert.equal(s.signal.aborted, true);
  assert.match(String((s.signal.reason as Error).message), /stopped by SIGTERM/);
  signals.emit('SIGINT', 'SIGINT');
  assert.equal(s.received(), 'SIGTERM');
  await assert.rejects(s.hardStop, /cleanup did not finish within 0.05 s: an incomplete multipart upload may remain/);
  s.dispose();
  assert.equal(signals.listenerCount('SIGTERM'), 0);
});

test("metrics: the Lambda's per-database EMF becomes PutMetricData datums with the same names, units and dimensions", async () => {
  const sent: MetricDatum[] = [];
  const t = createContainerTelemetry({ POWERTOOLS_SERVICE_NAME: 'nightly' }, async (_ns, data) => void sent.push(...data));
  publishDatabaseMetrics(t.database, { kind: 'database', database: 'shop', ok: true, bytes: 1000, durationMs: 500 } as never);
  t.run.addMetric('BackupSucceeded', MetricUnit.Count, 1);
  t.run.publishStoredMetrics();
  await t.flush();
  const view = sent
    .map((d) => `${d.MetricName} ${d.Unit} ${d.Value} ${(d.Dimensions ?? []).map((x) => `${x.Name}=${x.Value}`).join(',')}`)
    .sort();
  assert.deepEqual(view, [
    'BackupBytes Bytes 1000 service=nightly,database=shop',
    'BackupDuration Milliseconds 500 service=nightly,database=shop',
    'BackupSucceeded Count 1 service=nightly',
    'BackupThroughput Bytes/Second 2000 service=nightly,database=shop',
    'DatabaseBackupSucceeded Count 1 service=nightly,database=shop',
  ]);
  assert.equal(
    emfToDatums({
      _aws: { Timestamp: 0, CloudWatchMetrics: [{ Namespace: 'n', Dimensions: [['a']], Metrics: [{ Name: 'm', Unit: 'Count' }] }] },
      a: 'x',
      m: [1, 2],
    })[0]!.Values?.length,
    2,
  );
});

test('a failing PutMetricData is logged and swallowed: metrics never fail a backup', async () => {
  const t = createContainerTelemetry({}, async () => {
    throw new Error('AccessDenied: not authorized to perform cloudwatch:PutMetricData');
  });
  t.run.addMetric('BackupSucceeded', MetricUnit.Count, 1);
  t.run.publishStoredMetrics();
  await t.flush();
});
