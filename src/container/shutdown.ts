import { AbortedError } from '../core/errors.ts';

/**
 * SIGTERM handling for an ECS task. StopTask (and a scale-in, a deployment, a Spot reclaim) sends SIGTERM, then
 * SIGKILL after the container's stopTimeout (30 s by default on Fargate). The first SIGTERM or SIGINT aborts the
 * run: the pipeline kills pg_dump and aborts the multipart upload, so nothing half-written stays in the bucket.
 * If that cleanup has not finished `hardStopMs` later, `hardStop` rejects so the task still reports and exits
 * before the SIGKILL, saying that an incomplete upload may remain (the bucket's lifecycle rule removes it).
 */
export type Shutdown = {
  readonly signal: AbortSignal;
  /** Which signal stopped the run, if one did. */
  readonly received: () => NodeJS.Signals | null;
  /** Rejects `hardStopMs` after the signal. Only meaningful in a race with the run. */
  readonly hardStop: Promise<never>;
  dispose(): void;
};

/** Well inside ECS's 30 s default: room for the final log lines and the metrics call. */
export const DEFAULT_HARD_STOP_MS = 20_000;

class CleanupTimeoutError extends AbortedError {}

export type SignalSource = {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
};

export function watchShutdown(source: SignalSource = process, hardStopMs: number = DEFAULT_HARD_STOP_MS): Shutdown {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  let timer: NodeJS.Timeout | undefined;
  let rejectHard: ((err: Error) => void) | undefined;
  const hardStop = new Promise<never>((_resolve, reject) => {
    rejectHard = reject;
  });
  // Observed only through Promise.race; an unobserved rejection must not crash the process.
  hardStop.catch(() => undefined);
  const onSignal = (sig: NodeJS.Signals): void => {
    // Later signals are ignored: the abort is already under way, and a second one must not skip the cleanup.
    if (received) return;
    received = sig;
    controller.abort(
      new AbortedError(
        `stopped by ${sig} (ECS StopTask or a task replacement): the dump and its upload were aborted and no backup was recorded`,
      ),
    );
    timer = setTimeout(() => {
      rejectHard?.(
        new CleanupTimeoutError(
          `stopped by ${sig} and the cleanup did not finish within ${hardStopMs / 1000} s: an incomplete multipart upload may remain until the bucket lifecycle rule removes it (it never lists as a backup)`,
        ),
      );
    }, hardStopMs);
    timer.unref();
  };
  source.on('SIGTERM', onSignal);
  source.on('SIGINT', onSignal);
  return {
    signal: controller.signal,
    received: () => received,
    hardStop,
    dispose: () => {
      clearTimeout(timer);
      source.off('SIGTERM', onSignal);
      source.off('SIGINT', onSignal);
    },
  };
}
