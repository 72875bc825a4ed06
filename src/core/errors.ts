import { redact } from './redact.ts';

/** Exit codes of the CLI; the Lambda maps every failure to a thrown error. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** verify only: the verifying server lacked something the archive needs; the backup was not judged. */
  couldNotVerify: 3,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: every error the tool raises on purpose is one of these, with a message already redacted. */
export class BackupToolError extends Error {
  readonly exitCode: ExitCode;
  /** What the user can do about it, printed under the message. */
  readonly hint: string | undefined;

  constructor(message: string, options: { cause?: unknown; hint?: string | undefined; exitCode?: ExitCode } = {}) {
    super(redact(message), options.cause === undefined ? undefined : { cause: sanitizeCause(options.cause) });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? ExitCode.failed;
    this.hint = options.hint === undefined ? undefined : redact(options.hint);
  }
}

export type ConfigIssue = { readonly field: string; readonly message: string };

/** Invalid configuration: names every bad field; never echoes the rejected value. */
export class ConfigError extends BackupToolError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(`invalid configuration:\n${issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}`, {
      exitCode: ExitCode.usage,
    });
    this.issues = Object.freeze(issues.map((i) => Object.freeze({ field: i.field, message: redact(i.message) })));
  }
}

/** The pg tools are missing, unusable, or older than the server. */
export class ToolError extends BackupToolError {}

/** A connection to PostgreSQL failed (auth, network, TLS, unknown database). */
export class ConnectionError extends BackupToolError {}

/** Credentials could not be obtained (Secrets Manager, IAM token). */
export class CredentialsError extends BackupToolError {}

/** pg_dump / pg_dumpall / pg_restore failed: exit code or signal, and the tail of its stderr. */
export class ToolProcessError extends BackupToolError {
  readonly tool: string;
  readonly exitStatus: number | null;
  readonly signal: string | null;
  readonly stderrTail: string;
  constructor(
    tool: string,
    status: { code: number | null; signal: string | null; stderrTail: string },
    options: { cause?: unknown; hint?: string | undefined; detail?: string } = {},
  ) {
    const how = status.signal !== null ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
    const tail = status.stderrTail.trim();
    super(
      `${tool} ${how}${options.detail ? ` (${options.detail})` : ''}${tail ? `:\n${indent(tail)}` : ' and printed nothing on stderr'}`,
      options,
    );
    this.tool = tool;
    this.exitStatus = status.code;
    this.signal = status.signal;
    this.stderrTail = redact(tail);
  }
}

/** The dump stream is not a valid pg_dump custom-format archive. */
export class ArchiveFormatError extends BackupToolError {}

/** The storage target failed (S3 or filesystem). */
export class StorageError extends BackupToolError {}

/**
 * The key to be written already exists. Backups are created, never replaced (S3: If-None-Match: * answered 412;
 * file://: the name is taken): a clash means a second writer or an attempt to overwrite a backup, never something
 * to retry.
 */
export class ObjectExistsError extends StorageError {}

/**
 * The object changed between the ranged reads of one download (a later range's If-Match on the first range's ETag
 * was answered 412): its parts would come from different objects, so nothing of it is used.
 */
export class ObjectChangedError extends StorageError {}

/** An object's content does not match its manifest (checksum, size, truncation). */
export class IntegrityError extends BackupToolError {}

/** The run was cancelled (signal, Lambda time budget). */
export class AbortedError extends BackupToolError {}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

/** Causes travel with the error into logs: keep their class and message but redact them. */
function sanitizeCause(cause: unknown): unknown {
  if (cause instanceof BackupToolError) return cause;
  if (cause instanceof Error) {
    const copy = new Error(redact(cause.message));
    copy.name = cause.name;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') Object.assign(copy, { code });
    if (cause.cause !== undefined) Object.assign(copy, { cause: sanitizeCause(cause.cause) });
    return copy;
  }
  return redact(String(cause));
}

/** Message of any thrown value, for reports. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return redact(err.message);
  return redact(String(err));
}

/** Content from the bucket that would run as the operator if passed on (psql meta-commands, an unguarded script). */
export class UnsafeContentError extends BackupToolError {}
