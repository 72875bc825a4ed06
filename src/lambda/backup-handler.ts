import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { executeBackup } from '../app/backup.ts';
import { BackupRunError, type BackupEvent, type BackupReport, type DatabaseResult } from '../core/backup/run-backup.ts';
import type { BackupConfig } from '../core/config/backup-config.ts';
import { BackupToolError, ConfigError, describeError } from '../core/errors.ts';
import type { IamSigner } from '../postgres/credentials.ts';
import { ForesightAbortError, foresee } from './foresight.ts';
import { budgetError, type CutShort, cleanupUnfinishedError, HardStopError, type TimeBudget, watchTimeBudget } from './budget.ts';
import { parseLambdaConfig, withEndpoint, type LambdaConfig } from '../runner/config.ts';
import { applySelection, parseEvent } from './event.ts';
import { resolveInstance, type DescribeInstance } from '../runner/instance.ts';
import { backupEventLogger, createTelemetry, METRICS, type Telemetry } from '../runner/telemetry.ts';
import type { Env } from '../core/env.ts';

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
        describe: deps.describeInstance,
      });
      logger.info('RDS instance resolved', { instance: ep.id, host: ep.host, port: ep.port, status: ep.status, engine: ep.engine });
      backup = withEndpoint(backup, ep.host, ep.port);
    }

    const events = backupEventLogger(telemetry, () => context.getRemainingTimeInMillis());
    let foresight: ForesightAbortError | null = null;
    const onEvent = (e: BackupEvent): void => {
      events.onEvent(e);
      // Foresight: a dump that cannot finish is stopped now, not when the budget runs out.
      if (!cfg.lambda.earlyAbort || e.type !== 'estimate' || !e.estimate || foresight) return;
      foresight = foresee(e.estimate, context.getRemainingTimeInMillis(), cfg.lambda.abortMarginMs);
      if (foresight) {
        logger.warn('aborting early: the projection says the dump cannot finish in time', { error: foresight.message });
        budget.abort(foresight);
      }
    };

    let report: BackupReport;
    let cutShort: CutShort | null = null;
    budget.signal.addEventListener(
      'abort',
      () => {
        const f = events.inFlight();
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
          signer: deps.signer,
        }),
        budget.hardStop,
      ]);
    } catch (err) {
      if (foresight && !(err instanceof HardStopError)) throw foresight;
      if (err instanceof HardStopError) {
        // Cleanup did not finish: do not claim the upload was aborted.
        throw cleanupUnfinishedError(lastInFlight(), err);
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
