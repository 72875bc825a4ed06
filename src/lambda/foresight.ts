import { clock, estimateText } from '../app/progress-log.ts';
import type { DumpEstimate } from '../core/backup/dump-progress.ts';
import { AbortedError } from '../core/errors.ts';

const ECS_RUNNER_HINT =
  'set runner = "ecs" for this database in the Terraform module (an ECS/Fargate task has no 15-minute limit), or run the rds-s3-backup CLI on a host';

/** How far the projected time may exceed the time left before aborting early. */
const FORESIGHT_TOLERANCE = 1.3;

/** The projection said the dump cannot finish in the time left: aborted early, before the budget ran out. */
export class ForesightAbortError extends AbortedError {}

/**
 * Once the estimate is stable, compares the time the dump still needs with the time left before the abort margin.
 * Returns the error to abort with, or null while the dump can still finish (or nothing is known yet). Only the
 * database being dumped is projected: later ones have no estimate yet and get their own turn.
 */
export function foresee(e: DumpEstimate, remainingMs: number, marginMs: number): ForesightAbortError | null {
  if (!e.stable || e.etaMs === null) return null;
  const availableMs = remainingMs - marginMs;
  // Only when the projection misses by more than its measured error (docs/benchmarks.md: up to about +30% on
  // skewed data): a dump that might still make it runs on, and the budget abort stays the backstop.
  if (e.etaMs <= availableMs * FORESIGHT_TOLERANCE) return null;
  const needMs = e.elapsedMs + e.etaMs;
  return new ForesightAbortError(
    `backing up ${e.database} cannot finish within this Lambda invocation: at ${estimateText(e)} it needs about ${clock(needMs)} in all (${clock(e.etaMs)} more), but only ${clock(Math.max(0, availableMs))} remain before the abort margin; aborted early after ${clock(e.elapsedMs)} instead of at the timeout: the dump and its multipart upload were aborted and no partial backup was left. runner = "ecs" fits: an ECS/Fargate task has no time limit.`,
    { hint: ECS_RUNNER_HINT },
  );
}
