import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { executeBackup } from '../app/backup.ts';
import { progressLog } from '../app/progress-log.ts';
import { BackupRunError, type BackupEvent, type BackupReport } from '../core/backup/run-backup.ts';
import type { BackupConfig } from '../core/config/backup-config.ts';
import type { IamSigner } from '../postgres/credentials.ts';
import { withEndpoint } from '../runner/config.ts';
import { resolveInstance, type DescribeInstance } from '../runner/instance.ts';
import { METRICS, publishDatabaseMetrics } from '../runner/telemetry.ts';
import type { ContainerBackupConfig } from './config.ts';
import type { Shutdown } from './shutdown.ts';
import type { ContainerTelemetry } from './telemetry.ts';

type Env = Readonly<Record<string, string | undefined>>;

export type BackupDeps = {
  readonly env: Env;
  readonly telemetry: ContainerTelemetry;
  readonly shutdown: Shutdown;
  readonly signer?: IamSigner;
  readonly describeInstance?: DescribeInstance;
};

const PROGRESS_SAMPLE_MS = 1000;

function eventLogger(t: ContainerTelemetry): (e: BackupEvent) => void {
  const { logger } = t;
  // The same 30-s progress line as the Lambda's.
  const logProgress = progressLog(logger);
  return (e) => {
    logProgress(e);
    switch (e.type) {
      case 'plan':
        logger.info('backup plan', {
          databases: e.databases,
          globals: e.globals,
          serverVersion: e.server.version,
          pgDumpVersion: e.pgDumpVersion,
        });
        break;
      case 'start':
        logger.info('backup started', { database: e.database, key: e.key, partSize: e.partSize, tier: e.tier });
        break;
      case 'done':
        logger.info('backup done', {
          database: e.result.database,
          kind: e.result.kind,
          key: e.result.key,
          manifestKey: e.result.manifestKey,
          bytes: e.result.bytes,
          durationMs: e.result.durationMs,
          tier: e.result.tier,
        });
        publishDatabaseMetrics(t.database, e.result);
        break;
      case 'failed':
        logger.error('backup failed', {
          database: e.result.database,
          kind: e.result.kind,
          durationMs: e.result.durationMs,
          error: e.result.error,
        });
        publishDatabaseMetrics(t.database, e.result);
        break;
    }
  };
}

/** One backup run of every configured database; throws on any failure (the caller maps it to the exit code). */
export async function runContainerBackup(config: ContainerBackupConfig, deps: BackupDeps): Promise<BackupReport> {
  const { logger } = deps.telemetry;
  let backup: BackupConfig = config.backup;
  logger.info('backup requested', {
    target: backup.target.url,
    databases: backup.databases,
    globals: backup.globals,
    auth: backup.auth.mode,
    instance: config.lambda.instance?.id ?? null,
    host: backup.connection.host,
    sslmode: backup.connection.sslmode,
    sslrootcert: backup.connection.sslrootcert,
    compression: backup.compression,
    kms: backup.kmsKeyId !== null,
  });
  try {
    if (config.lambda.instance) {
      const ep = await resolveInstance(config.lambda.instance, {
        region: (backup.auth.mode === 'iam' ? backup.auth.region : null) ?? (deps.env.RDS_S3_BACKUP_DB_REGION || null),
        authMode: backup.auth.mode,
        signal: deps.shutdown.signal,
        ...(deps.describeInstance ? { describe: deps.describeInstance } : {}),
      });
      logger.info('RDS instance resolved', { instance: ep.id, host: ep.host, port: ep.port, status: ep.status, engine: ep.engine });
      backup = withEndpoint(backup, ep.host, ep.port);
    }
    const report = await Promise.race([
      executeBackup(backup, {
        signal: deps.shutdown.signal,
        env: deps.env,
        onEvent: eventLogger(deps.telemetry),
        progressIntervalMs: PROGRESS_SAMPLE_MS,
        ...(deps.signer ? { signer: deps.signer } : {}),
      }),
      deps.shutdown.hardStop,
    ]);
    if (!report.ok) throw new BackupRunError(report);
    deps.telemetry.run.addMetric(METRICS.succeeded, MetricUnit.Count, 1);
    logger.info('backup succeeded', { backups: report.results.length, bytes: report.results.reduce((s, r) => s + r.bytes, 0) });
    return report;
  } catch (err) {
    deps.telemetry.run.addMetric(METRICS.failed, MetricUnit.Count, 1);
    throw err;
  } finally {
    deps.telemetry.run.publishStoredMetrics();
  }
}
