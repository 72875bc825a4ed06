import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { NotAnArchiveError, TocReader, type ArchiveToc } from '../archive/toc.ts';
import { AbortedError, ArchiveFormatError, BackupToolError, IntegrityError, StorageError, describeError } from '../errors.ts';

export type ExpectedObject = { readonly key: string; readonly bytes: number; readonly sha256: string };

/**
 * Reads a stored object chunk by chunk while hashing and counting it against its manifest. Nothing read
 * from here may be trusted until `finish()` returned: it is the only place that knows the object is whole.
 */
export class VerifyingReader {
  readonly expected: ExpectedObject;
  bytes = 0;
  readonly #hash = createHash('sha256');
  readonly #stream: Readable;
  readonly #it: AsyncIterator<unknown>;
  #ended = false;
  #sha256: string | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: () => void;

  constructor(stream: Readable, expected: ExpectedObject, signal?: AbortSignal) {
    this.expected = expected;
    this.#stream = stream;
    this.#it = stream[Symbol.asyncIterator]();
    this.#signal = signal;
    this.#onAbort = () => stream.destroy(new AbortedError('restore cancelled'));
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The next chunk, or null at the end of the object. */
  async next(): Promise<Buffer | null> {
    if (this.#ended) return null;
    let r: IteratorResult<unknown>;
    try {
      r = await this.#it.next();
    } catch (err) {
      if (this.#signal?.aborted) throw new AbortedError('restore cancelled: nothing was committed');
      if (err instanceof BackupToolError) throw err;
      throw new StorageError(
        `reading ${this.expected.key} failed after ${this.bytes} of ${this.expected.bytes} bytes: ${describeError(err)}`,
        { cause: err },
      );
    }
    if (r.done) {
      this.#ended = true;
      return null;
    }
    const buf = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    this.bytes += buf.length;
    this.#hash.update(buf);
    if (this.bytes > this.expected.bytes) {
      throw new IntegrityError(`${this.expected.key} is longer than its manifest says (${this.expected.bytes} bytes): refusing it`);
    }
    return buf;
  }

  /** Call at the end: throws unless every byte arrived and the SHA-256 matches the manifest. */
  finish(): string {
    if (this.#sha256) return this.#sha256;
    if (!this.#ended) throw new Error('VerifyingReader.finish() before the end of the object');
    if (this.bytes < this.expected.bytes) {
      throw new IntegrityError(`${this.expected.key} is truncated: ${this.bytes} of ${this.expected.bytes} bytes arrived; refusing it`, {
        hint: 'retry (a connection may have been cut); if it persists the object in the bucket is damaged: pick another backup',
      });
    }
    const sha = this.#hash.digest('hex');
    if (sha !== this.expected.sha256) {
      throw new IntegrityError(
        `${this.expected.key} does not match its manifest: SHA-256 ${sha}, manifest says ${this.expected.sha256}; refusing it`,
        {
          hint: 'the object was changed or damaged after the backup: pick another backup (rds-s3-backup list) and check who can write to the bucket',
        },
      );
    }
    this.#sha256 = sha;
    return sha;
  }

  /** Read to the end (hashing), then finish(). */
  async drain(onChunk?: (c: Buffer) => void | Promise<void>): Promise<string> {
    for (;;) {
      const c = await this.next();
      if (!c) break;
      await onChunk?.(c);
    }
    return this.finish();
  }

  destroy(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (!this.#stream.destroyed) this.#stream.destroy();
  }
}

export type ArchiveHead = {
  /** Every chunk read so far (the TOC and whatever came with it), to be replayed into pg_restore. */
  readonly chunks: readonly Buffer[];
  /** null: the archive is newer than the TOC reader knows (pg_restore may still read it). */
  readonly toc: ArchiveToc | null;
};

/** Reads until the archive's table of contents is complete; refuses a non-archive on its first bytes. */
export async function readArchiveHead(reader: VerifyingReader): Promise<ArchiveHead> {
  const toc = new TocReader();
  const chunks: Buffer[] = [];
  while (!toc.done) {
    const c = await reader.next();
    if (!c) break;
    chunks.push(c);
    toc.feed(c);
  }
  try {
    return { chunks, toc: toc.finish() };
  } catch (err) {
    if (reader.ended && reader.bytes < reader.expected.bytes) reader.finish(); // truncation is the better diagnosis
    const msg = err instanceof NotAnArchiveError ? err.message : describeError(err);
    throw new ArchiveFormatError(`${reader.expected.key} is not a readable pg_dump custom-format archive: ${msg}`, { cause: err });
  }
}
