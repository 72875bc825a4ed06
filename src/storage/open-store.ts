import type { BackupStore } from '../core/ports/store.ts';
import type { TargetUrl } from '../core/config/target-url.ts';
import type { Env } from '../core/env.ts';
import { FileStore } from './file.ts';
import { createS3Client, S3Store } from './s3.ts';

/**
 * The store a target URL names; `env` configures the S3 client (region, endpoint); `downloadStreams` the ranged
 * GETs of a large download (restore --download-streams).
 */
export function openStore(
  target: TargetUrl,
  options: { readonly env: Env; readonly kmsKeyId?: string | null; readonly downloadStreams?: number },
): BackupStore {
  if (target.kind === 's3') {
    const client = createS3Client(options.env);
    const ranges = options.downloadStreams === undefined ? undefined : { concurrency: options.downloadStreams };
    return new S3Store({ bucket: target.bucket, prefix: target.prefix, kmsKeyId: options.kmsKeyId ?? null, client, ranges });
  }
  return new FileStore(target.root);
}
