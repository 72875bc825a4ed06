import type { BackupStore } from '../core/ports/store.ts';
import type { IamSigner } from '../postgres/credentials.ts';
import type { Env } from '../core/env.ts';

/** What an entrypoint may hand to any execute* function; E is the command's progress event. */
export type ExecuteOptions<E> = {
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: E) => void;
  readonly env: Env;
  /** Replaces the store the config names (tests, and callers that already hold one). */
  readonly store?: BackupStore;
  readonly signer?: IamSigner;
  readonly progressIntervalMs?: number;
};

/** The run options core takes, copied from ExecuteOptions without writing undefined into optional fields. */
export function runOptions<E>(options: ExecuteOptions<E>): {
  signal?: AbortSignal;
  onEvent?: (e: E) => void;
  progressIntervalMs?: number;
} {
  return {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
  };
}
