import type { Output } from './progress.ts';
import type { Env } from '../core/env.ts';

export type CliIO = {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly env: Env;
  readonly signal: AbortSignal;
};
