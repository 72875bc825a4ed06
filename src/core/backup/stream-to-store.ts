import { createHash } from 'node:crypto';
import { AbortedError, ArchiveFormatError, BackupToolError, StorageError, ToolProcessError, describeError } from '../errors.ts';
import { NotAnArchiveError, TocReader, type ArchiveToc } from '../archive/toc.ts';
import { ArchiveFramingChecker } from '../archive/framing.ts';
import type { RunningTool } from '../ports/database-source.ts';
import type { BackupStore, UploadOptions } from '../ports/store.ts';
import { DUMP_TOOLS_HINT, dumpExitHint, dumpHint } from '../pg-hints.ts';

export type StreamResult = {
  readonly bytes: number;
  readonly sha256: string;
  readonly versionId: string | null;
  readonly toc: ArchiveToc | null;
};

export type StreamOptions = UploadOptions & {
  /** Parse the custom-format TOC (database dumps); off for plain SQL (globals). */
  readonly expectArchive: boolean;
  readonly signal: AbortSignal | undefined;
  readonly onBytes?: (bytes: number) => void;
};

/**
 * Streams a child's stdout into the store while hashing it. The upload is only allowed to complete after
 * the child exited 0 and the stream proved to be what it should be; on any failure the body is destroyed so
 * the store aborts the multipart upload, and the first cause is what the caller sees.
 */
export async function streamToStore(proc: RunningTool, store: BackupStore, key: string, options: StreamOptions): Promise<StreamResult> {
  const hash = createHash('sha256');
  const toc = options.expectArchive ? new TocReader() : undefined;
  // The TOC alone does not prove the data is all there: the framing checker follows every data block to the end.
  const framing = options.expectArchive ? new ArchiveFramingChecker() : undefined;
  const upload = store.openUpload(key, options);
  const internal = new AbortController();
  let firstError: Error | undefined;
  // Set when a write was refused: the store gave up on its own, and its error (through `done`) is the cause.
  let storeGaveUp = false;
  const fail = (err: Error): void => {
    if (firstError) return;
    firstError = err;
    internal.abort(err);
    proc.kill('SIGTERM');
    // Cancels the parts in flight at once (also after pg_dump exited, while the last parts and the completion are
    // in flight) and removes the upload; `done` settles once it is gone.
    upload.abort(err);
  };

  const onExternalAbort = (): void => {
    const reason: unknown = options.signal?.reason;
    fail(reason instanceof BackupToolError ? reason : new AbortedError(`backup cancelled: ${describeError(reason ?? 'aborted')}`));
  };
  if (options.signal?.aborted) onExternalAbort();
  options.signal?.addEventListener('abort', onExternalAbort, { once: true });

  // An upload failure must stop the dump at once rather than let pg_dump block on a full pipe.
  const uploadOutcome = upload.done.then(
    (r) => ({ ok: true as const, result: r }),
    (err: unknown) => {
      // The store's own error already names the target and carries the hint; wrapping it would lose the hint.
      fail(err instanceof StorageError ? err : new StorageError(`upload of ${key} failed: ${describeError(err)}`, { cause: err }));
      return { ok: false as const, error: err };
    },
  );

  let bytes = 0;
  // Thrown to stop reading without a new cause: the cause is already known (firstError, or the store's through `done`).
  const stop = new Error('stop reading');
  // Everything happens inside the read callback, on a buffer the next read reuses: the hash, both parsers and the
  // store copy what they keep before returning (the store may instead hold the chunk until its promise settles).
  const copy = proc
    .readOutput((buf) => {
      if (internal.signal.aborted) throw stop;
      bytes += buf.length;
      hash.update(buf);
      if (toc) {
        toc.feed(buf);
        // A non-archive fails on its first bytes, before any part is uploaded.
        if (toc.error) throw toc.error;
      }
      // Damage past the TOC is only judged after pg_dump exited: its own exit status, if non-zero, says more.
      framing?.feed(buf);
      options.onBytes?.(bytes);
      return upload.write(buf)?.catch(() => {
        // The store gave up (a part failed for good), or we did; either way the cause arrives through `done`.
        storeGaveUp = true;
        throw stop;
      });
    })
    .catch((err: unknown) => {
      if (err === stop) return;
      if (err instanceof NotAnArchiveError)
        fail(new ArchiveFormatError(`${proc.tool} output is not a pg_dump archive: ${err.message}`, { hint: DUMP_TOOLS_HINT }));
      else fail(err instanceof Error ? err : new Error(String(err)));
    });

  // The abort listener stays until the upload settled: a cancellation (SIGTERM, the Lambda budget) that arrives
  // after pg_dump exited, while the last parts and CompleteMultipartUpload are in flight, must still cancel them.
  try {
    return await finishStream();
  } finally {
    options.signal?.removeEventListener('abort', onExternalAbort);
  }

  async function finishStream(): Promise<StreamResult> {
    const status = await proc.exited;
    await copy;
    // When the store gave up, pg_dump dies of the closed pipe ("could not write to output file"); the store's failure
    // is the cause to report, so wait for it before blaming pg_dump.
    if (!firstError && storeGaveUp) await uploadOutcome;

    if (!firstError && (status.code !== 0 || status.signal !== null)) {
      fail(new ToolProcessError(proc.tool, status, { hint: dumpHint(status.stderrTail) ?? dumpExitHint(status) }));
    }
    if (!firstError && bytes === 0) fail(new ArchiveFormatError(`${proc.tool} exited 0 but wrote nothing`, { hint: DUMP_TOOLS_HINT }));
    let parsedToc: ArchiveToc | null = null;
    if (!firstError && toc && framing) {
      try {
        parsedToc = toc.finish();
        framing.finish();
      } catch (err) {
        fail(
          new ArchiveFormatError(`${proc.tool} exited 0 but its output is not a complete pg_dump archive: ${describeError(err)}`, {
            hint: DUMP_TOOLS_HINT,
          }),
        );
      }
    }

    if (firstError) {
      // fail() aborted the upload; wait until every trace of it is gone.
      await uploadOutcome;
      throw firstError;
    }

    upload.end();
    const outcome = await uploadOutcome;
    if (!outcome.ok)
      throw firstError ?? new StorageError(`upload of ${key} failed: ${describeError(outcome.error)}`, { cause: outcome.error });
    return { bytes, sha256: hash.digest('hex'), versionId: outcome.result.versionId, toc: parsedToc };
  }
}
