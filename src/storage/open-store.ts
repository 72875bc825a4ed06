import type { BackupStore } from '../core/ports/store.ts';
import type { TargetUrl } from '../core/config/target-url.ts';
import { FileStore } from './file.ts';
import { S3Store } from './s3.ts';

export function openStore(target: TargetUrl, options: { kmsKeyId?: string | null } = {}): BackupStore {
  if (target.kind === 's3') return new S3Store({ bucket: target.bucket, prefix: target.prefix, kmsKeyId: options.kmsKeyId ?? null });
  return new FileStore(target.root);
}
