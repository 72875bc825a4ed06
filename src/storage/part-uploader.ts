import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

/** S3's limit; the part size is chosen so that a dump fits (core/config/part-size.ts). */
const MAX_PARTS = 10_000;

type Send = (command: unknown) => Promise<unknown>;

export type PartUploadOptions = {
  readonly send: Send;
  /** Everything PutObject would take except the body: CreateMultipartUpload and CompleteMultipartUpload get it too. */
  readonly params: Omit<PutObjectCommandInput, 'Body'>;
  readonly body: Readable;
  readonly partSize: number;
  readonly queueSize: number;
  readonly onPart?: (uploadedBytes: number) => void;
};

/**
 * A multipart upload driven directly instead of through lib-storage, for what the profile showed it costs: lib-storage
 * collects a part's pipe chunks in an array and `Buffer.concat`s them, a full copy of the archive into a fresh 8 MiB
 * buffer per part, and that garbage (external memory) made GC the largest per-byte cost. Here each chunk is copied once
 * into one of `queueSize + 1` part buffers that are reused for the whole upload, so memory stays flat at about
 * (queue size + 1) × part size whatever the database size. Semantics kept from lib-storage: one PutObject when the
 * whole body fits in one part; otherwise CreateMultipartUpload, at most `queueSize` UploadParts in flight (reading stops
 * while they are, so pg_dump is held back rather than buffered), CompleteMultipartUpload with `params` (which carry
 * If-None-Match and the tags), and AbortMultipartUpload on any failure before the error is rethrown. Part checksums are
 * the SDK's default CRC32, passed on to Complete.
 */
export async function uploadInParts(options: PartUploadOptions): Promise<{ VersionId?: string | undefined }> {
  const { send, params, partSize, queueSize } = options;
  const free: Buffer[] = [];
  // Not from Node's shared pool: these live for the whole upload and are reused part after part.
  const take = (): Buffer => free.pop() ?? Buffer.allocUnsafeSlow(partSize);

  let uploadId: string | undefined;
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let uploaded = 0;
  let partNumber = 0;

  const uploadPart = async (buf: Buffer, length: number): Promise<void> => {
    partNumber += 1;
    if (partNumber > MAX_PARTS)
      throw new Error(`more than ${MAX_PARTS} parts of ${partSize} bytes: the part size is too small for this dump`);
    if (uploadId === undefined) {
      const created = (await send(new CreateMultipartUploadCommand({ ...params, ChecksumAlgorithm: 'CRC32' }))) as { UploadId?: string };
      if (!created.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
      uploadId = created.UploadId;
    }
    const number = partNumber;
    const id = uploadId;
    const p = (async () => {
      try {
        const out = (await send(
          new UploadPartCommand({
            Bucket: params.Bucket,
            Key: params.Key,
            UploadId: id,
            PartNumber: number,
            Body: buf.subarray(0, length),
            ChecksumAlgorithm: 'CRC32',
          }),
        )) as { ETag?: string; ChecksumCRC32?: string };
        if (!out.ETag) throw new Error(`part ${number} is missing its ETag in the UploadPart response`);
        parts.push({ PartNumber: number, ETag: out.ETag, ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}) });
        uploaded += length;
        options.onPart?.(uploaded);
        free.push(buf);
      } catch (err) {
        if (!failure) {
          failure = { error: err };
          // Stop reading now, not at the next part boundary: the caller sees its body destroyed and stops pg_dump.
          options.body.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      }
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    // Backpressure: with queueSize parts in flight, stop reading until one is done.
    while (inFlight.size >= queueSize && !failure) await Promise.race(inFlight);
    if (failure) throw failure.error;
  };

  try {
    let current = take();
    let filled = 0;
    let anyPartSent = false;
    for await (const chunk of options.body) {
      const data = chunk as Buffer;
      let offset = 0;
      while (offset < data.length) {
        // A full buffer goes out only once more bytes prove it is not the last: a body of one part is one PutObject.
        if (filled === partSize) {
          await uploadPart(current, filled);
          anyPartSent = true;
          current = take();
          filled = 0;
        }
        const n = data.copy(current, filled, offset, Math.min(data.length, offset + partSize - filled));
        filled += n;
        offset += n;
      }
    }
    if (!anyPartSent) {
      const out = (await send(new PutObjectCommand({ ...params, Body: current.subarray(0, filled) }))) as { VersionId?: string };
      options.onPart?.(filled);
      return { VersionId: out.VersionId };
    }
    if (filled > 0) await uploadPart(current, filled);
    while (inFlight.size > 0) await Promise.race(inFlight);
    if (failure) throw failure.error;
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    const done = (await send(new CompleteMultipartUploadCommand({ ...params, UploadId: uploadId, MultipartUpload: { Parts: parts } }))) as {
      VersionId?: string;
    };
    return { VersionId: done.VersionId };
  } catch (err) {
    if (uploadId !== undefined) {
      // The caller's wrapper records whether this worked and tries once more if not.
      await send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId })).catch(() => undefined);
    }
    throw failure?.error ?? err;
  }
}
