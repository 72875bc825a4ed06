import { AbortedError } from '../core/errors.ts';

export const LONGER_RUNNER_HINT =
  'run this database from a longer-running runner: an ECS/Fargate task or the rds-s3-backup CLI on a host (or raise the function timeout if it is below the 15-minute maximum)';

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
