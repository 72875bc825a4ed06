import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { UploadResult } from '../core/ports/store.ts';
import type { PartShipper } from './part-sink.ts';

/** S3's limit; the part size is chosen so that a dump fits (core/config/part-size.ts). */
const MAX_PARTS = 10_000;

export type Send = (command: unknown, signal: AbortSignal | undefined) => Promise<unknown>;

export type MultipartOptions = {
  /** Sends a command; `signal` undefined means "not cancellable" (the caller bounds it otherwise). */
  readonly send: Send;
  /** Everything PutObject would take except the body: CreateMultipartUpload and CompleteMultipartUpload get it too. */
  readonly params: Omit<PutObjectCommandInput, 'Body'>;
  readonly partSize: number;
};

/**
 * The S3 side of a PartSink, driven directly instead of through lib-storage for what the profile showed lib-storage
 * costs (a `Buffer.concat` of every part into a fresh buffer: the largest share of GC). One PutObject when the whole
 * body fits in one part; otherwise CreateMultipartUpload (made with the first part, so a small dump never opens
 * one), UploadPart with the SDK's CRC32 checksum, and CompleteMultipartUpload with `params` — which carry
 * If-None-Match and the tags, because Complete is where a multipart upload's condition is checked — listing every
 * part's CRC32. `discard` aborts the multipart upload when one was opened.
 */
export function multipartShipper(options: MultipartOptions): PartShipper & { readonly uploadId: () => string | undefined } {
  const { send, params, partSize } = options;
  const parts: CompletedPart[] = [];
  let created: Promise<string> | undefined;
  let uploadId: string | undefined;

  // CreateMultipartUpload is not cancelled with the parts: a create cut off client-side may still open the upload on
  // S3, and without its UploadId nothing could abort it. It runs to its end (bounded by `send`), then the abort follows.
  const create = (): Promise<string> => {
    created ??= (async () => {
      const out = (await send(new CreateMultipartUploadCommand({ ...params, ChecksumAlgorithm: 'CRC32' }), undefined)) as {
        UploadId?: string;
      };
      if (!out.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
      uploadId = out.UploadId;
      return out.UploadId;
    })();
    return created;
  };

  return {
    uploadId: () => uploadId,
    async part(number, body, signal) {
      if (number > MAX_PARTS)
        throw new Error(`more than ${MAX_PARTS} parts of ${partSize} bytes: the part size is too small for this dump`);
      const id = await create();
      signal.throwIfAborted();
      const out = (await send(
        new UploadPartCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: id,
          PartNumber: number,
          Body: body,
          ChecksumAlgorithm: 'CRC32',
        }),
        signal,
      )) as { ETag?: string; ChecksumCRC32?: string };
      if (!out.ETag) throw new Error(`part ${number} is missing its ETag in the UploadPart response`);
      parts.push({ PartNumber: number, ETag: out.ETag, ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}) });
    },
    async complete(whole, signal): Promise<UploadResult> {
      if (whole) {
        const out = (await send(new PutObjectCommand({ ...params, Body: whole }), signal)) as { VersionId?: string };
        return { versionId: out.VersionId ?? null };
      }
      parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      const out = (await send(
        new CompleteMultipartUploadCommand({ ...params, UploadId: await create(), MultipartUpload: { Parts: parts } }),
        signal,
      )) as { VersionId?: string };
      return { versionId: out.VersionId ?? null };
    },
    async discard() {
      // Wait for a create still in flight: its UploadId is what the abort needs.
      const id = created ? await created.catch(() => undefined) : undefined;
      if (id === undefined) return;
      // The caller's wrapper records whether this worked and tries once more if not.
      await send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: id }), undefined).catch(
        () => undefined,
      );
    },
  };
}
