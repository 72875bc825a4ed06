import type { Readable } from 'node:stream';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { AbortedError, ObjectChangedError, StorageError } from '../core/errors.ts';
import type { RangeRead, RangeReadOptions } from '../core/ports/store.ts';
import { errorCode, s3Error } from './s3-errors.ts';

/**
 * One range of the object. If-Match (not VersionId) pins the version: it needs only s3:GetObject, works on
 * unversioned buckets, and S3 answers 412 when the object's ETag differs.
 */
export async function readS3Range(
  client: S3Client,
  bucket: string,
  key: string,
  { start, end }: { readonly start: number; readonly end: number },
  o: RangeReadOptions,
): Promise<RangeRead> {
  const where = `s3://${bucket}/${key} (bytes ${start}-${end})`;
  let out: GetObjectCommandOutput;
  try {
    out = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}`, IfMatch: o.ifMatch }),
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
