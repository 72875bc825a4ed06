import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { executeBackup } from '../app/backup.ts';
import { BackupRunError, type BackupEvent, type BackupReport, type DatabaseResult } from '../core/backup/run-backup.ts';
import type { BackupConfig } from '../core/config/backup-config.ts';
import { AbortedError, BackupToolError, ConfigError, describeError } from '../core/errors.ts';
import type { IamSigner } from '../postgres/credentials.ts';
import { progressLog } from '../app/progress-log.ts';
import { ForesightAbortError, foresee } from './foresight.ts';
import { HardStopError, LONGER_RUNNER_HINT, watchTimeBudget, type TimeBudget } from './budget.ts';
import { parseLambdaConfig, withEndpoint, type LambdaConfig } from './config.ts';
import { applySelection, parseEvent } from './event.ts';
import { resolveInstance, type DescribeInstance } from './instance.ts';
import { createTelemetry, METRICS, publishDatabaseMetrics, type Telemetry } from './telemetry.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** The part of Lambda's context object the handler uses. */
export type LambdaContext = {
  readonly awsRequestId: string;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  getRemainingTimeInMillis(): number;
};

export type BackupSummary = {
  readonly ok: true;
  readonly target: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly server: { readonly version: string; readonly host: string | null } | null;
  readonly pgDumpVersion: string | null;
  readonly backups: readonly {
    readonly kind: DatabaseResult['kind'];
    readonly database: string | null;
    readonly key: string;
    readonly manifestKey: string | null;
    readonly bytes: number;
    readonly sha256: string | null;
    readonly tier: DatabaseResult['tier'];
    readonly durationMs: number;
  }[];
};

export type HandlerDeps = {
  readonly env?: Env;
  readonly telemetry?: Telemetry;
  readonly signer?: IamSigner;
  readonly describeInstance?: DescribeInstance;
};

export type BackupHandler = (event: unknown, context: LambdaContext) => Promise<BackupSummary>;

/** How often the pipeline reports bytes: only sampled into memory, logged every 30 s (app/progress-log.ts). */
const PROGRESS_SAMPLE_MS = 200;

function describeConfig(c: LambdaConfig): Record<string, unknown> {
  const b = c.backup;
  return {
    target: b.target.url,
    databases: b.databases,
    globals: b.globals,
    auth: b.auth.mode,
    instance: c.lambda.instance?.id ?? null,
    host: b.connection.host,
    port: b.connection.port,
    user: b.connection.user,
    sslmode: b.connection.sslmode,
    sslrootcert: b.connection.sslrootcert,
    compression: b.compression,
    kms: b.kmsKeyId !== null,
    abortMarginSeconds: c.lambda.abortMarginMs / 1000,
  };
}

function summarize(report: BackupReport): BackupSummary {
  return {
    ok: true,
    target: report.target,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    server: report.server ? { version: report.server.version, host: report.server.host } : null,
    pgDumpVersion: report.pgDumpVersion,
    backups: report.results.map((r) => ({
      kind: r.kind,
      database: r.database,
      key: r.key,
      manifestKey: r.manifestKey,
      bytes: r.bytes,
      sha256: r.sha256,
      tier: r.tier,
      durationMs: r.durationMs,
    })),
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The error for a run the time budget cut short: it names the database and what to do about it. */
/** What was being dumped when the budget ran out (taken at the abort, not after the cleanup). */
type CutShort = { readonly database: string | null; readonly bytes: number; readonly elapsedMs: number };

function budgetError(report: BackupReport | null, inFlight: CutShort | null, cause: unknown): AbortedError {
  const cut = report?.results.find(
    (r) => !r.ok && r.bytes === 0 && r.error?.name === 'AbortedError' && !/before it started/.test(r.error.message),
  );
  const who = cut ? (cut.database ?? 'globals') : inFlight ? (inFlight.database ?? 'globals') : null;
  const streamed = inFlight ? ` (${mib(inFlight.bytes)} dumped in ${(inFlight.elapsedMs / 1000).toFixed(0)} s)` : '';
  const done = report?.results.filter((r) => r.ok).map((r) => r.database ?? 'globals') ?? [];
  const skipped = report?.results.filter((r) => !r.ok && r !== cut).map((r) => r.database ?? 'globals') ?? [];
  const lines = [
    who
      ? `the Lambda time budget ran out while backing up ${who}${streamed}: the dump and its multipart upload were aborted and no partial backup was left. ${who} needs a longer-running runner: an ECS/Fargate task or the rds-s3-backup CLI on a host.`
      : `the Lambda time budget ran out before the backup started; it needs a longer-running runner: an ECS/Fargate task or the rds-s3-backup CLI on a host.`,
  ];
  if (done.length > 0) lines.push(`completed before the cut: ${done.join(', ')}`);
  if (skipped.length > 0) lines.push(`not backed up: ${skipped.join(', ')}`);
  return new AbortedError(lines.join('\n'), { cause, hint: LONGER_RUNNER_HINT });
}

/** The early-abort error with what completed before it and what was not backed up. */
function withOutcome(err: ForesightAbortError, report: BackupReport): ForesightAbortError {
  const done = report.results.filter((r) => r.ok).map((r) => r.database ?? 'globals');
  const notDone = report.results.filter((r) => !r.ok).map((r) => r.database ?? 'globals');
  const lines = [err.message];
  if (done.length > 0) lines.push(`completed before the abort: ${done.join(', ')}`);
  if (notDone.length > 0) lines.push(`not backed up: ${notDone.join(', ')}`);
  return new ForesightAbortError(lines.join('\n'), { cause: err, ...(err.hint ? { hint: err.hint } : {}) });
}

/** Our errors are redacted at construction; anything else is wrapped so no unredacted text reaches Lambda's error record. */
function toThrown(err: unknown): Error {
  if (err instanceof BackupToolError) return err;
  const wrapped = new BackupToolError(describeError(err), { cause: err });
  if (err instanceof Error) wrapped.name = err.name;
  return wrapped;
}

/** Builds the handler; the configuration is parsed here, once per cold start. */
export function createHandler(deps: HandlerDeps = {}): BackupHandler {
  const env = deps.env ?? process.env;
  const telemetry = deps.telemetry ?? createTelemetry(env);
  const { logger } = telemetry;
  const t0 = performance.now();
  let config: LambdaConfig | undefined;
  let initError: unknown;
  try {
    config = parseLambdaConfig(env);
  } catch (err) {
    initError = err;
  }
  const initMs = Math.round((performance.now() - t0) * 1000) / 1000;
  if (config) logger.info('configuration loaded', { initMs, config: describeConfig(config) });
  // Not thrown here: a module that fails to load gives an opaque Runtime.ImportModuleError and no metric.
  else logger.error('invalid function configuration: every invocation fails until it is fixed', initError as Error);

  async function run(event: unknown, context: LambdaContext, cfg: LambdaConfig, budget: TimeBudget): Promise<BackupSummary> {
    const parsed = parseEvent(event);
    if (budget.expired()) throw budgetError(null, null, budget.signal.reason);
    logger.appendKeys({ trigger: { kind: parsed.kind, id: parsed.id, source: parsed.source, time: parsed.time } });
    let backup: BackupConfig = applySelection(cfg.backup, parsed.selection);
    logger.info('backup requested', {
      databases: backup.databases,
      globals: backup.globals,
      remainingMs: context.getRemainingTimeInMillis(),
    });

    if (cfg.lambda.instance) {
      const ep = await resolveInstance(cfg.lambda.instance, {
        region: (backup.auth.mode === 'iam' ? backup.auth.region : null) ?? (env.RDS_S3_BACKUP_DB_REGION || null),
        authMode: backup.auth.mode,
        signal: budget.signal,
        ...(deps.describeInstance ? { describe: deps.describeInstance } : {}),
      });
      logger.info('RDS instance resolved', { instance: ep.id, host: ep.host, port: ep.port, status: ep.status, engine: ep.engine });
      backup = withEndpoint(backup, ep.host, ep.port);
    }

    let inFlight: { database: string | null; bytes: number; startedAt: number } | null = null;
    let foresight: ForesightAbortError | null = null;
    const logProgress = progressLog(logger, () => ({ remainingMs: context.getRemainingTimeInMillis() }));
    const onEvent = (e: BackupEvent): void => {
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
          inFlight = { database: e.database, bytes: 0, startedAt: Date.now() };
          logger.info('backup started', { database: e.database, key: e.key, partSize: e.partSize, tier: e.tier });
          break;
        case 'progress':
          if (inFlight) inFlight.bytes = e.bytes;
          break;
        case 'estimate':
          // Foresight: a dump that cannot finish is stopped now, not when the budget runs out.
          if (e.estimate && !foresight) {
            foresight = foresee(e.estimate, context.getRemainingTimeInMillis(), cfg.lambda.abortMarginMs);
            if (foresight) {
              logger.warn('aborting early: the projection says the dump cannot finish in time', { error: foresight.message });
              budget.abort(foresight);
            }
          }
          break;
        case 'done':
          inFlight = null;
          logger.info('backup done', {
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
          logger.error('backup failed', {
            database: e.result.database,
            kind: e.result.kind,
            durationMs: e.result.durationMs,
            error: e.result.error,
          });
          publishDatabaseMetrics(telemetry.database, e.result);
          break;
      }
    };

    let report: BackupReport;
    let cutShort: CutShort | null = null;
    budget.signal.addEventListener(
      'abort',
      () => {
        const f = inFlight as { database: string | null; bytes: number; startedAt: number } | null;
        if (f) cutShort = { database: f.database, bytes: f.bytes, elapsedMs: Date.now() - f.startedAt };
      },
      { once: true },
    );
    const lastInFlight = (): CutShort | null => cutShort;
    try {
      report = await Promise.race([
        executeBackup(backup, {
          signal: budget.signal,
          env,
          onEvent,
          progressIntervalMs: PROGRESS_SAMPLE_MS,
          ...(deps.signer ? { signer: deps.signer } : {}),
        }),
        budget.hardStop,
      ]);
    } catch (err) {
      if (foresight && !(err instanceof HardStopError)) throw foresight;
      if (err instanceof HardStopError) {
        // Cleanup did not finish: do not claim the upload was aborted.
        throw new AbortedError(
          `the Lambda time budget ran out while backing up ${lastInFlight()?.database ?? 'the backup'} and cleanup did not finish: an incomplete multipart upload may remain until the bucket lifecycle rule removes it (it never lists as a backup)`,
          { cause: err, hint: LONGER_RUNNER_HINT },
        );
      }
      if (budget.expired() && !(err instanceof ConfigError)) throw budgetError(null, lastInFlight(), err);
      throw err;
    }
    if (!report.ok) {
      if (foresight) throw withOutcome(foresight, report);
      if (budget.expired()) throw budgetError(report, lastInFlight(), new BackupRunError(report));
      throw new BackupRunError(report);
    }
    return summarize(report);
  }

  return async function handler(event: unknown, context: LambdaContext): Promise<BackupSummary> {
    logger.addContext(context as Parameters<typeof logger.addContext>[0]);
    const started = Date.now();
    let budget: TimeBudget | undefined;
    try {
      if (!config) throw initError;
      budget = watchTimeBudget(() => context.getRemainingTimeInMillis(), config.lambda.abortMarginMs);
      const summary = await run(event, context, config, budget);
      telemetry.run.addMetric(METRICS.succeeded, MetricUnit.Count, 1);
      logger.info('backup succeeded', {
        durationMs: Date.now() - started,
        backups: summary.backups.length,
        bytes: summary.backups.reduce((s, b) => s + b.bytes, 0),
      });
      return summary;
    } catch (err) {
      telemetry.run.addMetric(METRICS.failed, MetricUnit.Count, 1);
      // Lambda records only the thrown message; the hint goes to the log next to it.
      const hint = err instanceof BackupToolError ? err.hint : undefined;
      const error = toThrown(err);
      logger.error('backup run failed', { error, ...(hint ? { hint } : {}), durationMs: Date.now() - started });
      throw error;
    } finally {
      budget?.dispose();
      telemetry.run.publishStoredMetrics();
      logger.resetKeys();
    }
  };
}
