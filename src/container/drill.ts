import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { executeList } from '../app/list.ts';
import { executeVerify } from '../app/verify.ts';
import { BackupToolError, describeError } from '../core/errors.ts';
import type { VerifyReport } from '../core/restore/verify.ts';
import type { DrillConfig } from './config.ts';
import type { EmbeddedInstall } from '../postgres/embedded-server.ts';
import type { Shutdown } from './shutdown.ts';
import type { ContainerTelemetry } from './telemetry.ts';
import { DRILL_METRICS } from './drill-metrics.ts';

type Env = Readonly<Record<string, string | undefined>>;

export type DrillDeps = {
  readonly env: Env;
  readonly telemetry: ContainerTelemetry;
  readonly shutdown: Shutdown;
  /** Throwaway servers installed in the image (/opt/postgresql/<major>); null: the npm packages (development). */
  readonly embeddedInstalls: readonly EmbeddedInstall[] | null;
};

class DrillFailedError extends BackupToolError {}

/**
 * The scheduled restore drill: for each configured database (or every database with a backup), verify its
 * newest complete backup in a throwaway PostgreSQL inside the task, with exact row counts against the manifest,
 * and record the result next to the backup (what `list` shows). One failing database does not stop the others.
 */
export async function runDrill(config: DrillConfig, deps: DrillDeps): Promise<readonly VerifyReport[]> {
  const { logger } = deps.telemetry;
  const t = deps.telemetry;
  let failures = 0;
  const reports: VerifyReport[] = [];
  try {
    let databases = config.databases;
    if (!databases) {
      const { url, entries } = await executeList(config.list, { env: deps.env });
      databases = [
        ...new Set(entries.filter((e) => e.kind === 'database' && e.status === 'complete' && e.database).map((e) => e.database!)),
      ].sort();
      logger.info('databases with backups', { source: url, databases });
      if (databases.length === 0) throw new DrillFailedError(`no complete backup found in ${url}: nothing to verify`);
    }
    for (const database of databases) {
      if (deps.shutdown.signal.aborted) throw deps.shutdown.signal.reason;
      const started = Date.now();
      t.database.addDimension('database', database);
      try {
        logger.info('verify started', { database });
        const report = await Promise.race([
          executeVerify(config.forDatabase(database), {
            signal: deps.shutdown.signal,
            env: deps.env,
            onEvent: (e) => {
              if (e.type === 'scratch') logger.info('throwaway server', { database, kind: e.kind, version: e.version, note: e.note });
            },
            ...(deps.embeddedInstalls
              ? {
                  embedded: {
                    installs: deps.embeddedInstalls,
                    missingHint:
                      'the verify image has no PostgreSQL server this new: rebuild it with scripts/image/build.ts --pg-majors including this major',
                  },
                }
              : {}),
          }),
          deps.shutdown.hardStop,
        ]);
        reports.push(report);
        const fields = {
          database,
          backup: report.backup.id,
          ok: report.ok,
          summary: report.summary,
          mismatches: report.mismatches,
          notes: report.notes,
          recordKey: report.recordKey,
          durationMs: report.durationMs,
        };
        if (report.ok) logger.info('verify succeeded', fields);
        else {
          failures++;
          logger.error('verify FAILED', fields);
        }
        t.database.addMetric(report.ok ? DRILL_METRICS.databaseSucceeded : DRILL_METRICS.databaseFailed, MetricUnit.Count, 1);
      } catch (err) {
        if (deps.shutdown.signal.aborted) throw err;
        failures++;
        logger.error('verify could not run', {
          database,
          error: describeError(err),
          ...(err instanceof BackupToolError && err.hint ? { hint: err.hint } : {}),
        });
        t.database.addMetric(DRILL_METRICS.databaseFailed, MetricUnit.Count, 1);
      } finally {
        t.database.addMetric(DRILL_METRICS.duration, MetricUnit.Milliseconds, Date.now() - started);
        t.database.publishStoredMetrics();
      }
    }
    if (failures > 0)
      throw new DrillFailedError(
        `the restore drill failed for ${failures} of ${databases.length} database(s); see the log lines above and the verify records`,
      );
    t.run.addMetric(DRILL_METRICS.succeeded, MetricUnit.Count, 1);
    logger.info('restore drill succeeded', { databases: databases.length });
    return reports;
  } catch (err) {
    t.run.addMetric(DRILL_METRICS.failed, MetricUnit.Count, 1);
    throw err;
  } finally {
    t.run.publishStoredMetrics();
  }
}
