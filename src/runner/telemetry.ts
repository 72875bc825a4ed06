import { Logger } from '@aws-lambda-powertools/logger';
import { progressLog } from '../app/progress-log.ts';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { BackupEvent, DatabaseResult } from '../core/backup/run-backup.ts';
import type { Env } from '../core/env.ts';

/** Names the Terraform module's alarms depend on: change them together. */
export const METRICS = {
  /** Count 1 per fully successful run; dimension `service` only. The missed-backup alarm watches it. */
  succeeded: 'BackupSucceeded',
  /** Count 1 per failed run (including an invalid configuration or event); dimension `service` only. */
  failed: 'BackupFailed',
  /** Per database (dimensions `service`, `database`). */
  databaseSucceeded: 'DatabaseBackupSucceeded',
  databaseFailed: 'DatabaseBackupFailed',
  bytes: 'BackupBytes',
  duration: 'BackupDuration',
  throughput: 'BackupThroughput',
} as const;

export const DEFAULT_NAMESPACE = 'RdsS3Backup';
/** Dimension value for the roles/tablespaces backup: '@' never starts a name in keys (see core/catalog/keys.ts). */
const GLOBALS_DIMENSION = '@globals';

export type Telemetry = {
  readonly logger: Logger;
  /** Run-level metrics: one EMF document per invocation. */
  readonly run: Metrics;
  /** Per-database metrics: one EMF document per database result. */
  readonly database: Metrics;
  readonly service: string;
  readonly namespace: string;
};

export function createTelemetry(env: Env): Telemetry {
  const service = env.POWERTOOLS_SERVICE_NAME || env.AWS_LAMBDA_FUNCTION_NAME || 'rds-s3-backup';
  const namespace = env.POWERTOOLS_METRICS_NAMESPACE || DEFAULT_NAMESPACE;
  return {
    logger: new Logger({ serviceName: service }),
    run: new Metrics({ namespace, serviceName: service }),
    database: new Metrics({ namespace, serviceName: service }),
    service,
    namespace,
  };
}

/** Emits one EMF document for a database result with dimensions service + database. */
export function publishDatabaseMetrics(metrics: Metrics, result: DatabaseResult): void {
  metrics.addDimension('database', result.kind === 'globals' ? GLOBALS_DIMENSION : (result.database ?? GLOBALS_DIMENSION));
  if (result.ok) {
    metrics.addMetric(METRICS.databaseSucceeded, MetricUnit.Count, 1);
    metrics.addMetric(METRICS.bytes, MetricUnit.Bytes, result.bytes);
    metrics.addMetric(METRICS.duration, MetricUnit.Milliseconds, result.durationMs);
    metrics.addMetric(
      METRICS.throughput,
      MetricUnit.BytesPerSecond,
      result.durationMs > 0 ? Math.round((result.bytes * 1000) / result.durationMs) : result.bytes,
    );
  } else {
    metrics.addMetric(METRICS.databaseFailed, MetricUnit.Count, 1);
    metrics.addMetric(METRICS.duration, MetricUnit.Milliseconds, result.durationMs);
  }
  metrics.publishStoredMetrics();
}

/** The dump being streamed right now: the budget error names it when the time runs out. */
export type InFlight = { database: string | null; bytes: number; startedAt: number };

/**
 * Logs each backup event (progress every 30 s, the same line as the container's: app/progress-log.ts) and
 * publishes per-database metrics; keeps track of the dump in flight.
 */
export function backupEventLogger(
  telemetry: Telemetry,
  remainingMs: () => number,
): { readonly onEvent: (e: BackupEvent) => void; inFlight(): InFlight | null } {
  let inFlight: InFlight | null = null;
  const logProgress = progressLog(telemetry.logger, () => ({ remainingMs: remainingMs() }));
  const onEvent = (e: BackupEvent): void => {
    logProgress(e);
    switch (e.type) {
      case 'plan':
        telemetry.logger.info('backup plan', {
          databases: e.databases,
          globals: e.globals,
          serverVersion: e.server.version,
          pgDumpVersion: e.pgDumpVersion,
        });
        break;
      case 'start':
        inFlight = { database: e.database, bytes: 0, startedAt: Date.now() };
        telemetry.logger.info('backup started', { database: e.database, key: e.key, partSize: e.partSize, tier: e.tier });
        break;
      case 'progress':
        if (inFlight) inFlight.bytes = e.bytes;
        break;
      case 'done':
        inFlight = null;
        telemetry.logger.info('backup done', {
          database: e.result.database,
          kind: e.result.kind,
          key: e.result.key,
          manifestKey: e.result.manifestKey,
          bytes: e.result.bytes,
          durationMs: e.result.durationMs,
          tier: e.result.tier,
        });
        publishDatabaseMetrics(telemetry.database, e.result);
        break;
      case 'failed':
        telemetry.logger.error('backup failed', {
          database: e.result.database,
          kind: e.result.kind,
          durationMs: e.result.durationMs,
          error: e.result.error,
        });
        publishDatabaseMetrics(telemetry.database, e.result);
        break;
    }
  };
  return { onEvent, inFlight: () => inFlight };
}
