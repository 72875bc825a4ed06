import type { BackupReport } from '../core/backup/run-backup.ts';
import { AbortedError } from '../core/errors.ts';

const LONGER_RUNNER_HINT =
  'run this database from a longer-running runner: an ECS Fargate task (runner = "ecs" in the Terraform module) or the rds-s3-backup CLI on a host (or raise the function timeout if it is below the 15-minute maximum)';

export type TimeBudget = {
  /** Aborted (reason: an AbortedError) when the remaining time drops to the margin. */
  readonly signal: AbortSignal;
  expired(): boolean;
  /** Abort now with this reason (the projection says the run cannot finish); no-op once aborted. */
  abort(reason: AbortedError): void;
  /** Rejects once there is almost no time left at all: the run must report now, finished cleanup or not. */
  readonly hardStop: Promise<never>;
  dispose(): void;
};

/** The budget ran out and cleanup did not finish: the upload may still be open. */
export class HardStopError extends AbortedError {}

/** Minimum time kept for reporting after the hard stop (logs and metrics must flush before the runtime freezes). */
const REPORT_RESERVE_MS = 1000;

/**
 * Watches Lambda's clock. At `remaining <= marginMs` it aborts the run (the pipeline kills pg_dump and aborts the
 * multipart upload); at `remaining <= REPORT_RESERVE_MS` the hard stop fires in case cleanup hangs.
 */
export function watchTimeBudget(remainingMs: () => number, marginMs: number): TimeBudget {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let hardTimer: NodeJS.Timeout | undefined;
  let rejectHard: ((err: Error) => void) | undefined;
  const hardStop = new Promise<never>((_resolve, reject) => {
    rejectHard = reject;
  });
  // Only observed through Promise.race; an unobserved rejection must not crash the process.
  hardStop.catch(() => undefined);

  const expire = (): void => {
    if (controller.signal.aborted) return;
    const left = Math.max(0, Math.round(remainingMs()));
    controller.abort(
      new AbortedError(`the Lambda time budget ran out: aborted with ${(left / 1000).toFixed(1)} s left before the function timeout`, {
        hint: LONGER_RUNNER_HINT,
      }),
    );
  };
  // Re-read the clock when a timer fires instead of trusting one long timer.
  const check = (): void => {
    const left = remainingMs();
    if (left <= marginMs) {
      expire();
      const untilHard = left - REPORT_RESERVE_MS;
      const fireHard = (): void =>
        rejectHard?.(
          new HardStopError(
            'the Lambda time budget ran out and cleanup did not finish in time; an incomplete multipart upload may remain until the bucket lifecycle rule removes it',
            { hint: LONGER_RUNNER_HINT },
          ),
        );
      if (untilHard <= 0) fireHard();
      else hardTimer = setTimeout(fireHard, untilHard);
      return;
    }
    timer = setTimeout(check, Math.min(left - marginMs, 60_000));
  };
  check();

  return {
    signal: controller.signal,
    expired: () => controller.signal.aborted,
    abort: (reason) => {
      if (!controller.signal.aborted) controller.abort(reason);
    },
    hardStop,
    dispose: () => {
      clearTimeout(timer);
      clearTimeout(hardTimer);
    },
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** What was being dumped when the budget ran out (taken at the abort, not after the cleanup). */
export type CutShort = { readonly database: string | null; readonly bytes: number; readonly elapsedMs: number };

/** The error for a run the time budget cut short: it names the database and what to do about it. */
export function budgetError(report: BackupReport | null, inFlight: CutShort | null, cause: unknown): AbortedError {
  const cut = report?.results.find((r) => !r.ok && !r.skipped && r.error?.name === 'AbortedError');
  const who = cut ? (cut.database ?? 'globals') : inFlight ? (inFlight.database ?? 'globals') : null;
  const streamed = inFlight ? ` (${mib(inFlight.bytes)} dumped in ${(inFlight.elapsedMs / 1000).toFixed(0)} s)` : '';
  const done = report?.results.filter((r) => r.ok).map((r) => r.database ?? 'globals') ?? [];
  const skipped = report?.results.filter((r) => !r.ok && r !== cut).map((r) => r.database ?? 'globals') ?? [];
  const lines = [
    who
      ? `the Lambda time budget ran out while backing up ${who}${streamed}: the dump and its multipart upload were aborted and no partial backup was left. ${who} needs a longer-running runner: the Terraform module's ECS Fargate task (runner = "ecs") or the rds-s3-backup CLI on a host.`
      : `the Lambda time budget ran out before the backup started; it needs a longer-running runner: the Terraform module's ECS Fargate task (runner = "ecs") or the rds-s3-backup CLI on a host.`,
  ];
  if (done.length > 0) lines.push(`completed before the cut: ${done.join(', ')}`);
  if (skipped.length > 0) lines.push(`not backed up: ${skipped.join(', ')}`);
  return new AbortedError(lines.join('\n'), { cause, hint: LONGER_RUNNER_HINT });
}

/** The budget ran out and cleanup did not finish: do not claim the upload was aborted. */
export function cleanupUnfinishedError(inFlight: CutShort | null, cause: unknown): AbortedError {
  return new AbortedError(
    `the Lambda time budget ran out while backing up ${inFlight?.database ?? 'the backup'} and cleanup did not finish: an incomplete multipart upload may remain until the bucket lifecycle rule removes it (it never lists as a backup)`,
    { cause, hint: LONGER_RUNNER_HINT },
  );
}
