// Turns a recorded HTTP request (test/support/aws-recorder.ts) back into the API operation it was, with the
// parameters that matter for authorization. S3 is recognised from method, path-style path, sub-resource query
// parameters and headers, the JSON APIs from X-Amz-Target, RDS from its form body's Action.
import type { RecordedRequest } from '../aws-recorder.ts';

export type S3Operation =
  | 'PutObject'
  | 'CopyObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListObjectsV2'
  | 'ListObjectVersions'
  | 'ListMultipartUploads'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'PutObjectTagging'
  | 'GetObjectTagging'
  | 'DeleteObjectTagging'
  | 'PutObjectRetention'
  | 'PutObjectLegalHold'
  | 'Other';

export type ApiCall =
  | {
      readonly service: 's3';
      readonly operation: S3Operation;
      readonly bucket: string;
      /** '' for bucket-level operations. */
      readonly key: string;
      readonly versionId: string | null;
      /** Lower-case request headers (x-amz-*, if-none-match, ...). */
      readonly headers: Readonly<Record<string, string>>;
      readonly query: Readonly<Record<string, string>>;
      /** Tags the request sets: x-amz-tagging, or the TagSet of PutObjectTagging. */
      readonly requestTags: Readonly<Record<string, string>>;
      /** Object Lock settings the request sets (headers, or the body of PutObjectRetention/PutObjectLegalHold). */
      readonly lock: { readonly mode?: string; readonly retainUntil?: string; readonly legalHold?: string };
      readonly status: number;
    }
  | { readonly service: 'secretsmanager'; readonly operation: string; readonly secretId: string; readonly status: number }
  | { readonly service: 'rds'; readonly operation: string; readonly dbInstanceIdentifier: string | null; readonly status: number }
  | { readonly service: 'kms'; readonly operation: string; readonly keyId: string | null; readonly status: number }
  /** Not an HTTP call: connecting to PostgreSQL with an RDS IAM token (presigned locally, checked by RDS). */
  | { readonly service: 'rds-db'; readonly operation: 'connect'; readonly dbUser: string; readonly status: number };

function s3Operation(
  method: string,
  key: string,
  query: Readonly<Record<string, string>>,
  headers: Readonly<Record<string, string>>,
): S3Operation {
  const has = (q: string): boolean => Object.hasOwn(query, q);
  if (!key) {
    if (method === 'GET' && has('list-type')) return 'ListObjectsV2';
    if (method === 'GET' && has('versions')) return 'ListObjectVersions';
    if (method === 'GET' && has('uploads')) return 'ListMultipartUploads';
    return 'Other';
  }
  if (has('tagging'))
    return method === 'PUT'
      ? 'PutObjectTagging'
      : method === 'DELETE'
        ? 'DeleteObjectTagging'
        : method === 'GET'
          ? 'GetObjectTagging'
          : 'Other';
  if (has('retention')) return method === 'PUT' ? 'PutObjectRetention' : 'Other';
  if (has('legal-hold')) return method === 'PUT' ? 'PutObjectLegalHold' : 'Other';
  if (method === 'POST' && has('uploads')) return 'CreateMultipartUpload';
  if (method === 'POST' && has('uploadId')) return 'CompleteMultipartUpload';
  if (method === 'PUT' && has('uploadId') && has('partNumber')) return 'UploadPart';
  if (method === 'DELETE' && has('uploadId')) return 'AbortMultipartUpload';
  if (method === 'PUT') return headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
  if (method === 'GET') return 'GetObject';
  if (method === 'HEAD') return 'HeadObject';
  if (method === 'DELETE') return 'DeleteObject';
  return 'Other';
}

function xmlValue(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
}

function xmlTags(xml: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const m of xml.matchAll(/<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g)) tags[m[1]!] = m[2]!;
  return tags;
}

function optional<K extends string>(name: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [name]: value } as Record<K, string>);
}

function jsonField(body: string | null, field: string): string | null {
  try {
    const v = (JSON.parse(body ?? '{}') as Record<string, unknown>)[field];
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** The API call a recorded request was; throws on what it cannot classify, so no request goes unchecked. */
export function toApiCall(r: RecordedRequest): ApiCall {
  const target = r.headers['x-amz-target'] ?? '';
  switch (r.service) {
    case 's3': {
      // Path style (the tests' endpoints are IP addresses): /bucket/key...
      const [, bucket = '', ...rest] = r.path.split('/');
      const key = decodeURIComponent(rest.join('/'));
      const body = r.body ?? '';
      const requestTags =
        r.headers['x-amz-tagging'] !== undefined ? Object.fromEntries(new URLSearchParams(r.headers['x-amz-tagging'])) : xmlTags(body);
      const lock = {
        ...optional('mode', r.headers['x-amz-object-lock-mode'] ?? xmlValue(body, 'Mode')),
        ...optional('retainUntil', r.headers['x-amz-object-lock-retain-until-date'] ?? xmlValue(body, 'RetainUntilDate')),
        ...optional('legalHold', r.headers['x-amz-object-lock-legal-hold'] ?? xmlValue(body, 'Status')),
      };
      return {
        service: 's3',
        operation: s3Operation(r.method, key, r.query, r.headers),
        bucket: decodeURIComponent(bucket),
        key,
        versionId: r.query['versionId'] ?? null,
        headers: r.headers,
        query: r.query,
        requestTags,
        lock,
        status: r.status,
      };
    }
    case 'secretsmanager':
      return {
        service: 'secretsmanager',
        operation: target.replace(/^secretsmanager\./, ''),
        secretId: jsonField(r.body, 'SecretId') ?? '',
        status: r.status,
      };
    case 'kms':
      return { service: 'kms', operation: target.replace(/^TrentService\./, ''), keyId: jsonField(r.body, 'KeyId'), status: r.status };
    case 'rds': {
      const form = new URLSearchParams(r.body ?? '');
      return {
        service: 'rds',
        operation: form.get('Action') ?? '',
        dbInstanceIdentifier: form.get('DBInstanceIdentifier'),
        status: r.status,
      };
    }
    default:
      throw new Error(`unrecognised AWS request #${r.seq}: service ${JSON.stringify(r.service)} ${r.method} ${r.path}`);
  }
}

/** A one-line description for assertion messages. */
export function describeCall(c: ApiCall): string {
  switch (c.service) {
    case 's3':
      return `s3 ${c.operation} ${c.bucket}/${c.key}${c.versionId ? `?versionId=${c.versionId}` : ''}`;
    case 'secretsmanager':
      return `secretsmanager ${c.operation} ${c.secretId}`;
    case 'rds':
      return `rds ${c.operation} ${c.dbInstanceIdentifier ?? ''}`;
    case 'kms':
      return `kms ${c.operation} ${c.keyId ?? ''}`;
    case 'rds-db':
      return `rds-db connect as ${c.dbUser}`;
  }
}
