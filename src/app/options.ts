import type { BackupStore } from '../core/ports/store.ts';
import type { IamSigner } from '../postgres/credentials.ts';
import type { Env } from '../core/env.ts';

/** What an entrypoint may hand to any execute* function; E is the command's progress event. */
export type ExecuteOptions<E> = {
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((e: E) => void) | undefined;
  readonly env: Env;
  /** Replaces the store the config names (tests, and callers that already hold one). */
  readonly store?: BackupStore | undefined;
  readonly signer?: IamSigner | undefined;
  readonly progressIntervalMs?: number | undefined;
};
