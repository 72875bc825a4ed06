// The container image's entrypoint (bundled to /app/main.mjs): `backup` (default), `verify` (the restore drill)
// and `--version`. Configuration comes from the environment only (the Lambda's schema), credentials from the SDK's
// default chain (an ECS task role through the container credentials endpoint), logs are JSON lines on stdout.
// The contract (commands, variables, exit codes, signals, metrics) is in docs/ecs.md.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { AbortedError, BackupToolError, ConfigError, describeError, ExitCode } from '../core/errors.ts';
import { TOOL_VERSION } from '../core/version.ts';
import { METRICS } from '../runner/telemetry.ts';
import { DRILL_METRICS } from './drill-metrics.ts';
import { DEFAULT_HARD_STOP_MS, watchShutdown, type SignalSource } from './shutdown.ts';
import { createContainerTelemetry, type ContainerTelemetry, type MetricSink } from './telemetry.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Exit codes of the task (ECS reports them in the task's container `exitCode`). */
export const CONTAINER_EXIT = {
  ok: ExitCode.ok,
  /** A backup or a verify failed, or anything else went wrong. */
  failed: ExitCode.failed,
  /** The configuration (environment) or the command line is invalid: fix the task definition. */
  usage: ExitCode.usage,
  /** Stopped by SIGTERM/SIGINT (StopTask): the run was aborted; 128 + 15 as a shell would report it. */
  terminated: 143,
} as const;

export type ContainerDeps = {
  readonly env?: Env;
  readonly stdout?: { write(text: string): unknown };
  readonly signals?: SignalSource;
  readonly metricSink?: MetricSink;
  readonly hardStopMs?: number;
};

const USAGE = `usage: rds-s3-backup-container [backup | verify | --version]
  backup   back up the configured databases (the default; configured like the Lambda: see docs/ecs.md)
  verify   restore drill: verify the newest backup of each database in RDS_S3_BACKUP_DATABASES in a throwaway server`;

async function runCommand(command: 'backup' | 'verify', env: Env, telemetry: ContainerTelemetry, deps: ContainerDeps): Promise<number> {
  const { logger } = telemetry;
  const shutdown = watchShutdown(deps.signals ?? process, deps.hardStopMs ?? DEFAULT_HARD_STOP_MS);
  const started = Date.now();
  try {
    if (command === 'backup') {
      const [{ parseContainerBackupConfig }, { runContainerBackup }] = await Promise.all([import('./config.ts'), import('./backup.ts')]);
      await runContainerBackup(parseContainerBackupConfig(env), { env, telemetry, shutdown });
    } else {
      const [{ parseDrillConfig }, { runDrill }, { imageEmbeddedInstalls }] = await Promise.all([
        import('./config.ts'),
        import('./drill.ts'),
        import('./embedded.ts'),
      ]);
      await runDrill(parseDrillConfig(env), { env, telemetry, shutdown, embeddedInstalls: imageEmbeddedInstalls() });
    }
    logger.info(`${command} finished`, { exitCode: CONTAINER_EXIT.ok, durationMs: Date.now() - started });
    return CONTAINER_EXIT.ok;
  } catch (err) {
    const code = shutdown.received() ? CONTAINER_EXIT.terminated : err instanceof BackupToolError ? err.exitCode : CONTAINER_EXIT.failed;
    const hint = err instanceof BackupToolError ? err.hint : undefined;
    const issues = err instanceof ConfigError ? err.issues : undefined;
    // A config error was raised before any metric: the run still counts as failed (the alarm must see it).
    if (err instanceof ConfigError)
      telemetry.run.addMetric(command === 'backup' ? METRICS.failed : DRILL_METRICS.failed, MetricUnit.Count, 1).publishStoredMetrics();
    logger.error(`${command} failed`, {
      exitCode: code,
      error: { name: err instanceof Error ? err.name : 'Error', message: describeError(err) },
      ...(hint ? { hint } : {}),
      ...(issues ? { issues } : {}),
      ...(shutdown.received() ? { signal: shutdown.received() } : {}),
      durationMs: Date.now() - started,
    });
    if (!(err instanceof BackupToolError) && !(err instanceof AbortedError))
      logger.error('unexpected error (a bug if it is not about the environment)', err as Error);
    return code;
  } finally {
    shutdown.dispose();
    await telemetry.flush();
  }
}

export async function runContainer(argv: readonly string[], deps: ContainerDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const out = deps.stdout ?? process.stdout;
  const [first, ...rest] = argv;
  const command = first ?? 'backup';
  if (command === '--version' || command === '-V' || command === 'version') {
    out.write(`rds-s3-backup ${TOOL_VERSION} (container; node ${process.version}, ${process.platform}-${process.arch})\n`);
    return CONTAINER_EXIT.ok;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    out.write(`${USAGE}\n`);
    return CONTAINER_EXIT.ok;
  }
  const telemetry = createContainerTelemetry(env, deps.metricSink);
  if ((command !== 'backup' && command !== 'verify') || rest.length > 0) {
    // Flags would be a second configuration channel; the task definition's environment is the only one.
    telemetry.logger.error('invalid command line', { exitCode: CONTAINER_EXIT.usage, argv, usage: USAGE });
    return CONTAINER_EXIT.usage;
  }
  return runCommand(command, env, telemetry, deps);
}

if (import.meta.main) {
  const code = await runContainer(process.argv.slice(2));
  process.exitCode = code;
  // A leftover handle (an idle keep-alive socket, a timer) must not keep a finished task running: ECS bills it
  // and the schedule's next run would overlap. stdout is a pipe here, and pipes are written synchronously.
  setTimeout(() => process.exit(code), 2000).unref();
}
