/** Metric names of the drill; the Terraform module's verify alarm depends on them: change them together. */
export const DRILL_METRICS = {
  /** Count 1 per drill run in which every database verified; dimension `service`. */
  succeeded: 'VerifySucceeded',
  /** Count 1 per drill run with any failure (including a configuration error); dimension `service`. */
  failed: 'VerifyFailed',
  /** Per database (dimensions `service`, `database`). */
  databaseSucceeded: 'DatabaseVerifySucceeded',
  databaseFailed: 'DatabaseVerifyFailed',
  duration: 'VerifyDuration',
} as const;
