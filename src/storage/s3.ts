import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  S3Client,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { AbortedError, ObjectChangedError, ObjectExistsError, StorageError, describeError } from '../core/errors.ts';
import type {
  BackupStore,
  IncompleteUpload,
  ObjectInfo,
  PutMode,
  RangedReads,
  RangeRead,
  RangeReadOptions,
  UploadHandle,
  UploadOptions,
  UploadResult,
} from '../core/ports/store.ts';
import type { Env } from '../core/env.ts';
import { uploadInParts } from './part-uploader.ts';
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

function errorCode(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string; cause?: { code?: string } };
  return e?.Code ?? e?.name ?? e?.code ?? e?.cause?.code ?? '';
}

/** Turns SDK errors into a message that says what failed and what to do. */
function s3Error(action: string, where: string, err: unknown): StorageError {
  const code = errorCode(err);
  const msg = describeError(err);
  let hint: string | undefined;
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (code === 'PreconditionFailed' || status === 412) {
    return new ObjectExistsError(
      `S3 ${action} ${where} refused: the key already exists, and backups are never overwritten (If-None-Match: *)`,
      {
        cause: err,
        hint: 'nothing was replaced and no manifest was written; another writer created this key first (a second run with the same backup id, or someone writing into the backup prefix): check what else writes there, then run the backup again',
      },
    );
  }
  if (code === 'NoSuchBucket') hint = 'the bucket does not exist: check --to/--from and the region';
  else if (code === 'AccessDenied' || code === 'Forbidden' || /access denied/i.test(msg))
    hint = 'the credentials are not allowed to do this: check the IAM policy (and the KMS key policy for SSE-KMS)';
  else if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EPIPE|socket hang up|connect/i.test(`${code} ${msg}`))
    hint = 'S3 is unreachable: check the network path (VPC endpoint, proxy) and AWS_ENDPOINT_URL';
  else if (/timed out/i.test(msg))
    hint =
      'S3 stopped answering (the request timed out, also on retry): check the network path (VPC endpoint, NAT, proxy) and AWS_ENDPOINT_URL, then run the backup again';
  else if ((status !== undefined && status >= 500) || /^(InternalError|ServiceUnavailable|SlowDown)$/.test(code))
    hint =
      "S3 kept answering with a server error after the SDK's retries: run the backup again later; if it persists, check the S3 service health for the region (or the S3-compatible server)";
  else if (/region/i.test(msg)) hint = 'set AWS_REGION';
  return new StorageError(`S3 ${action} ${where} failed: ${code && !msg.includes(code) ? `${code}: ` : ''}${msg}`, {
    cause: err,
    hint,
  });
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
      readRange: (key, start, end, o) => this.#readRange(key, start, end, o),
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

  /** `signal` (passed along by streamToStore) cancels in-flight requests and aborts the upload, also after the body ended. */
  upload(key: string, body: Readable, options: UploadOptions & { readonly signal?: AbortSignal | undefined }): UploadHandle {
    let uploaded = 0;
    // The uploader rethrows the first cause; watch its requests through a thin wrapper to know whether the
    // multipart upload is still open (its abort may fail too).
    let firstError: unknown;
    let uploadId: string | undefined;
    let aborted = false;
    // The caller destroys the body with an error to give up (pg_dump failed, SIGTERM, the Lambda budget): part
    // uploads still in flight are pointless then, and a stalled one would hold up the abort for minutes.
    const cancel = new AbortController();
    body.once('error', () => cancel.abort());
    options.signal?.addEventListener('abort', () => cancel.abort(), { once: true });
    const inner = this.#client;
    const send = async (command: Parameters<S3Client['send']>[0], options?: { abortSignal?: AbortSignal }): Promise<unknown> => {
      const isAbort = command instanceof AbortMultipartUploadCommand;
      const abortSignal = isAbort ? AbortSignal.timeout(ABORT_TIMEOUT_MS) : cancel.signal;
      try {
        const out = await (inner.send as (c: unknown, o: unknown) => Promise<unknown>)(command, { ...options, abortSignal });
        if (command instanceof CreateMultipartUploadCommand) uploadId = (out as { UploadId?: string }).UploadId;
        if (isAbort) aborted = true;
        return out;
      } catch (err) {
        if (!isAbort && !cancel.signal.aborted) firstError ??= err;
        throw err;
      }
    };
    const upload = uploadInParts({
      send: (command) => send(command as Parameters<S3Client['send']>[0]),
      params: this.#putParams(key, options, 'create'),
      body,
      partSize: options.partSize,
      queueSize: options.queueSize,
      onPart: (bytes) => {
        uploaded = bytes;
      },
    });
    const done = upload.then(
      (r): UploadResult => ({ versionId: r.VersionId ?? null }),
      async (err: unknown) => {
        const cause = firstError ?? err;
        let leftOpen = '';
        if (uploadId && !aborted) {
          // The uploader's abort failed (or never ran): try once more; NoSuchUpload means it is gone already.
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
      },
    );
    return { done, uploadedBytes: () => uploaded };
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

  /**
   * One range of the object. If-Match (not VersionId) pins the version: it needs only s3:GetObject, works on
   * unversioned buckets, and S3 answers 412 when the object's ETag differs.
   */
  async #readRange(key: string, start: number, end: number, o: RangeReadOptions): Promise<RangeRead> {
    const where = `s3://${this.bucket}/${key} (bytes ${start}-${end})`;
    let out: GetObjectCommandOutput;
    try {
      out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end}`, IfMatch: o.ifMatch }),
        o.signal ? { abortSignal: o.signal } : {},
      );
    } catch (err) {
      if (o.signal?.aborted) throw new AbortedError(`GetObject ${where} cancelled`, { cause: err });
      const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
      if (o.ifMatch !== undefined && (errorCode(err) === 'PreconditionFailed' || status === 412)) {
        throw new ObjectChangedError(
          `${where} changed while it was being downloaded: its ETag is no longer ${o.ifMatch}; nothing was restored`,
          {
            cause: err,
            hint: 'someone replaced the backup object during the restore (backups are never overwritten by this tool): find out who writes to the backup prefix, then restore again',
          },
        );
      }
      throw s3Error('GetObject', where, err);
    }
    const body = out.Body as Readable;
    const total = Number(/\/(\d+)$/.exec(out.ContentRange ?? '')?.[1]);
    if (!out.ETag || !Number.isSafeInteger(total)) {
      body.destroy();
      throw new StorageError(
        `GetObject ${where} was answered without ${out.ETag ? 'a Content-Range' : 'an ETag'}: the store does not serve ranges`,
      );
    }
    return { body, etag: out.ETag, objectBytes: total };
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
