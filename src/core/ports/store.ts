import type { Readable } from 'node:stream';

/** Where backups go: implemented by storage/s3.ts and storage/file.ts. Core only sees this port. */
export type ObjectInfo = {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date | null;
};

export type IncompleteUpload = {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date | null;
};

export type UploadOptions = {
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Set in the upload itself (S3: x-amz-tagging); objects are never tagged afterwards. */
  readonly tags: Readonly<Record<string, string>>;
  readonly partSize: number;
  readonly queueSize: number;
};

export type UploadResult = { readonly versionId: string | null };

/** How putSmall treats an existing key: backups and manifests are `create` only; a verify record may be replaced. */
export type PutMode = 'create' | 'replace';

/**
 * A streaming upload that the caller writes into. It is not a Writable stream on purpose: a stream keeps every chunk
 * until its consumer takes it, where this copies each chunk at once into buffers reused for the whole upload (the
 * profile in docs/benchmarks.md). `done` settles after `end()` (success) or after a failure — `abort()`, or the store
 * giving up on its own — once every trace is removed (the multipart upload aborted, the temp file deleted).
 */
export type UploadSink = {
  /**
   * Takes `chunk`'s bytes. Returns undefined when the next chunk may follow at once; otherwise a promise to wait for
   * first (the store is busy), and `chunk` must stay unchanged until it settles. The promise rejects when the
   * upload failed; the cause is what `done` rejects with.
   */
  write(chunk: Buffer): Promise<void> | undefined;
  /** No more bytes: the object is completed and `done` resolves with it. */
  end(): void;
  /** Gives up: in-flight requests are cancelled, every trace removed, and `done` rejects. Also after `end()`. */
  abort(reason: Error): void;
  readonly done: Promise<UploadResult>;
  /** Bytes acknowledged by the store so far. */
  readonly uploadedBytes: () => number;
};

export type RangeReadOptions = {
  /** The ETag every range must still have: the store rejects with ObjectChangedError when the object differs. */
  readonly ifMatch?: string | undefined;
  /** Cancels the request and its body. */
  readonly signal?: AbortSignal | undefined;
};

export type RangeRead = {
  /** Exactly the requested bytes (the caller counts them). */
  readonly body: Readable;
  /** Identifies this version of the object; passed as ifMatch to the other ranges of the same download. */
  readonly etag: string;
  /** The whole object's size, as the store reports it with the range. */
  readonly objectBytes: number;
};

/**
 * Concurrent ranged reads, for stores where one stream is bound by latency rather than bandwidth (S3). A store
 * without it is read with one `read`. core/restore/ranged-download.ts plans the ranges and puts them in order.
 */
export type RangedReads = {
  /** Bytes per range. */
  readonly partSize: number;
  /** Ranges in flight (and buffered ahead of the one being consumed) at most. */
  readonly concurrency: number;
  /** Bytes `start`..`end` (inclusive) of `key`. */
  readRange(key: string, start: number, end: number, options: RangeReadOptions): Promise<RangeRead>;
};

export interface BackupStore {
  /** Human-readable location, e.g. s3://bucket/prefix, without credentials. */
  readonly url: string;
  readonly prefix: string;
  /** Creates `key`; `done` rejects with ObjectExistsError when it exists (never replaces a backup). */
  openUpload(key: string, options: UploadOptions): UploadSink;
  /** Creates `key` (mode `create`, the default: ObjectExistsError when it exists) or writes it (`replace`). */
  putSmall(
    key: string,
    body: string,
    options: Omit<UploadOptions, 'partSize' | 'queueSize'> & { readonly mode?: PutMode },
  ): Promise<UploadResult>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  read(key: string): Promise<Readable>;
  /** Optional: concurrent ranged reads of large objects (the download before a --jobs restore). */
  readonly rangedReads?: RangedReads | undefined;
  /** Multipart uploads (or temp files) left behind under the prefix; undefined when the store cannot tell. */
  listIncomplete(prefix: string): Promise<readonly IncompleteUpload[] | undefined>;
}
