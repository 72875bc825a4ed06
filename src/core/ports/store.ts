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
 * A streaming upload. `done` settles once the body stream ended (success) or errored (the implementation
 * must then remove every trace: abort the multipart upload / delete the temp file) before rejecting.
 */
export type UploadHandle = {
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
  /** Creates `key`; rejects with ObjectExistsError when it exists (never replaces a backup). */
  upload(key: string, body: Readable, options: UploadOptions): UploadHandle;
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
