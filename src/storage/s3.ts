import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { ObjectExistsError, StorageError, describeError } from '../core/errors.ts';
import type {
  BackupStore,
  IncompleteUpload,
  ObjectInfo,
  PutMode,
  RangedReads,
  UploadOptions,
  UploadResult,
  UploadSink,
} from '../core/ports/store.ts';
import type { Env } from '../core/env.ts';
import { PartSink } from './part-sink.ts';
import { multipartShipper, type Send } from './part-uploader.ts';
import { errorCode, s3Error } from './s3-errors.ts';
import { readS3Range } from './s3-range.ts';
import { signDataUnsigned } from './unsigned-payload.ts';

export type S3StoreOptions = {
  readonly bucket: string;
  readonly prefix: string;
  readonly kmsKeyId: string | null;
  /** Built by createS3Client from the entrypoint's environment (or a test's). */
  readonly client: S3Client;
  /** Ranged reads of large objects (the download before a --jobs restore); default 8 MiB × 4; concurrency 1: one GET. */
  readonly ranges?: { readonly partSize?: number; readonly concurrency?: number } | undefined;
};

/**
 * 8 MiB ranges (the backup's default part size), 4 at a time: 32 MiB of memory at most. One S3 connection is bound
 * by its round trips and TCP window, well below a task's network; four in parallel is AWS's usual advice for large
 * GETs, and 8 MiB keeps each request's fixed cost (a round trip, a signature) small. Not tied to --jobs, which
 * counts database connections, not network ones.
 */
const RANGE_PART_SIZE = 8 * 1024 * 1024;
const RANGE_CONCURRENCY = 4;

/** Bounds each AbortMultipartUpload attempt so that cleanup fits in the Lambda's abort margin even when S3 stalls. */
const ABORT_TIMEOUT_MS = 10_000;

/** Local S3-compatible servers (moto, MinIO) answer on an address, not on bucket sub-domains. */
function needsPathStyle(env: Env): boolean {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  if (!endpoint) return false;
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || /^[\d.]+$/.test(host) || host.startsWith('[');
  } catch {
    return false;
  }
}

export type S3Timeouts = {
  /** TCP connect (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** A request whose socket sees no traffic this long fails (and is retried); default 120 s. */
  readonly socketTimeoutMs?: number;
};

export function createS3Client(env: Env, timeouts: S3Timeouts = {}): S3Client {
  const client = new S3Client({
    forcePathStyle: needsPathStyle(env),
    // Without a configured region S3 still works for any bucket: the SDK follows the region redirect.
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    followRegionRedirects: true,
    // The SDK's default is no timeout at all: one stalled connection (a dead NAT, a half-open socket) would hang
    // the backup forever, past the Lambda's budget and deaf to SIGTERM. Same idle limit as SDK v2's default.
    requestHandler: { connectionTimeout: timeouts.connectTimeoutMs ?? 10_000, socketTimeout: timeouts.socketTimeoutMs ?? 120_000 },
  });
  signDataUnsigned(client);
  return client;
}

function encodeTags(tags: Readonly<Record<string, string>>): string {
  return new URLSearchParams(Object.entries(tags)).toString();
}

export class S3Store implements BackupStore {
  readonly url: string;
  readonly prefix: string;
  readonly bucket: string;
  readonly #client: S3Client;
  readonly #kmsKeyId: string | null;
  readonly rangedReads: RangedReads;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.#kmsKeyId = options.kmsKeyId;
    this.#client = options.client;
    this.url = `s3://${options.bucket}${options.prefix ? '/' + options.prefix : ''}`;
    this.rangedReads = {
      partSize: options.ranges?.partSize ?? RANGE_PART_SIZE,
      concurrency: options.ranges?.concurrency ?? RANGE_CONCURRENCY,
      readRange: (key, start, end, o) => readS3Range(this.#client, this.bucket, key, { start, end }, o),
    };
  }

  #sse(): { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string } {
    return this.#kmsKeyId ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.#kmsKeyId } : {};
  }

  /**
   * What every object we write carries: type, metadata, tier tags (set atomically with the object: never tagged
   * later), encryption, and — unless the caller may replace the key — If-None-Match: * so that S3 refuses to
   * replace an existing object (412). uploadInParts passes these parameters on to CompleteMultipartUpload, which is
   * where a multipart upload's condition is checked; CreateMultipartUpload and UploadPart do not take it.
   */
  #putParams(key: string, options: Pick<UploadOptions, 'contentType' | 'metadata' | 'tags'>, mode: PutMode) {
    return {
      Bucket: this.bucket,
      Key: key,
      ContentType: options.contentType,
      Metadata: { ...options.metadata },
      Tagging: encodeTags(options.tags),
      ...(mode === 'create' ? { IfNoneMatch: '*' } : {}),
      ...this.#sse(),
    };
  }

  openUpload(key: string, options: UploadOptions): UploadSink {
    // The first S3 error is the cause to report (the sink's own failure may be a cancellation it caused); and whether
    // the multipart upload is still open, since its abort may fail too.
    let firstError: unknown;
    let aborted = false;
    const inner = this.#client;
    const send: Send = async (command, signal) => {
      const isAbort = command instanceof AbortMultipartUploadCommand;
      try {
        const out = await (inner.send as (c: unknown, o: unknown) => Promise<unknown>)(command, {
          // Requests the sink cannot cancel (create, abort) are bounded instead, so that cleanup fits in the Lambda's
          // abort margin even when S3 stalls.
          abortSignal: signal ?? AbortSignal.timeout(ABORT_TIMEOUT_MS),
        });
        if (isAbort) aborted = true;
        return out;
      } catch (err) {
        if (!isAbort && !signal?.aborted) firstError ??= err;
        throw err;
      }
    };
    const shipper = multipartShipper({ send, params: this.#putParams(key, options, 'create'), partSize: options.partSize });
    const sink = new PartSink(shipper, options);
    const done = sink.done.catch(async (err: unknown) => {
      const cause = firstError ?? err;
      let leftOpen = '';
      const uploadId = shipper.uploadId();
      if (uploadId && !aborted) {
        // The shipper's abort failed (or never ran): try once more; NoSuchUpload means it is gone already.
        try {
          await inner.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }), {
            abortSignal: AbortSignal.timeout(ABORT_TIMEOUT_MS),
          });
        } catch (abortErr) {
          if (errorCode(abortErr) !== 'NoSuchUpload') {
            leftOpen = `; the incomplete multipart upload ${uploadId} could not be aborted (${describeError(abortErr)}): it is not a backup and never lists as one, and the bucket's abort-incomplete-multipart-upload lifecycle rule removes it`;
          }
        }
      }
      const e = s3Error('upload of', `s3://${this.bucket}/${key}`, cause);
      if (!leftOpen) throw e;
      const Kind = e instanceof ObjectExistsError ? ObjectExistsError : StorageError;
      throw new Kind(e.message + leftOpen, { cause, hint: e.hint });
    });
    return sink.withDone(done);
  }

  async putSmall(
    key: string,
    body: string,
    options: Omit<UploadOptions, 'partSize' | 'queueSize'> & { readonly mode?: PutMode },
  ): Promise<UploadResult> {
    try {
      const r = await this.#client.send(new PutObjectCommand({ ...this.#putParams(key, options, options.mode ?? 'create'), Body: body }));
      return { versionId: r.VersionId ?? null };
    } catch (err) {
      throw s3Error('PutObject', `s3://${this.bucket}/${key}`, err);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    try {
      for await (const page of paginateListObjectsV2({ client: this.#client }, { Bucket: this.bucket, Prefix: prefix })) {
        for (const o of page.Contents ?? []) {
          if (o.Key) yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? null };
        }
      }
    } catch (err) {
      throw s3Error('ListObjectsV2', `s3://${this.bucket}/${prefix}`, err);
    }
  }

  async read(key: string): Promise<Readable> {
    try {
      const r = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return r.Body as Readable;
    } catch (err) {
      throw s3Error('GetObject', `s3://${this.bucket}/${key}`, err);
    }
  }

  async listIncomplete(prefix: string): Promise<readonly IncompleteUpload[] | undefined> {
    const out: IncompleteUpload[] = [];
    try {
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      for (;;) {
        const page = await this.#client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker, UploadIdMarker }),
        );
        for (const u of page.Uploads ?? []) {
          if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? null });
        }
        if (!page.IsTruncated) break;
        KeyMarker = page.NextKeyMarker;
        UploadIdMarker = page.NextUploadIdMarker;
      }
    } catch (err) {
      const code = errorCode(err);
      if (code === 'AccessDenied') return undefined;
      throw s3Error('ListMultipartUploads', `s3://${this.bucket}/${prefix}`, err);
    }
    return out;
  }
}
