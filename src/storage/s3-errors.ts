import { ObjectExistsError, StorageError, describeError } from '../core/errors.ts';

export function errorCode(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string; cause?: { code?: string } };
  return e?.Code ?? e?.name ?? e?.code ?? e?.cause?.code ?? '';
}

/** Turns SDK errors into a message that says what failed and what to do. */
export function s3Error(action: string, where: string, err: unknown): StorageError {
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
