// The one table from API calls to the IAM authorization AWS performs for them: action(s), resource ARN and the
// condition keys the request carries, as the AWS Service Authorization Reference ("Actions, resources, and
// condition keys for Amazon S3 / AWS KMS / AWS Secrets Manager / Amazon RDS / Amazon RDS IAM Authentication")
// and the operations' own API pages define them. The rules that are not one-call-one-action:
//   - PutObject / CreateMultipartUpload with x-amz-tagging also need s3:PutObjectTagging, evaluated with the
//     request's tags (s3:RequestObjectTag/<key>, s3:RequestObjectTagKeys) — S3 API reference, PutObject.
//   - PutObjectTagging / DeleteObjectTagging / GetObject / DeleteObject with versionId need the *Version* action as
//     well (s3:PutObjectVersionTagging, ...) — S3 API reference of each operation.
//   - CompleteMultipartUpload is authorized as s3:PutObject and is the request that carries If-None-Match
//     (s3:if-none-match); CreateMultipartUpload and UploadPart are s3:PutObject without it, told apart by
//     s3:ObjectCreationOperation = false — S3 user guide, "Enforce conditional writes".
//   - SSE-KMS: S3 calls KMS with the caller's identity: kms:GenerateDataKey for a new object (PutObject,
//     CreateMultipartUpload) and kms:Decrypt for multipart parts and completion and for reads, with
//     kms:ViaService = s3.<region>.amazonaws.com, kms:CallerAccount and the encryption context aws:s3:arn (the
//     bucket ARN when S3 Bucket Keys are on, the object ARN otherwise) — S3 user guide, "Multipart upload API and
//     permissions" and "Using SSE-KMS".
//   - CopyObject needs s3:PutObject on the target (with s3:x-amz-copy-source) and s3:GetObject on the source.
//   - Object Lock: x-amz-bypass-governance-retention adds s3:BypassGovernanceRetention.
import type { ApiCall } from './operations.ts';
import { describeCall } from './operations.ts';

/** Where the requests are evaluated: the deployment the rendered policies describe. */
export type Deployment = {
  readonly partition: string;
  readonly account: string;
  readonly region: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly kmsKeyArn: string;
  /** S3 Bucket Keys on: KMS sees the bucket ARN as encryption context. */
  readonly bucketKeyEnabled: boolean;
  readonly secretArn?: string | undefined;
  /** The customer managed key of the DB secret, when it has one. */
  readonly secretKmsKeyArn?: string | undefined;
  readonly dbInstanceArn?: string | undefined;
  readonly dbUserArn?: string | undefined;
};

/** Names used where the calls were recorded (moto), standing for the deployment's. */
export type Aliases = {
  readonly bucket?: string;
  readonly kmsKeyIds?: readonly string[];
  readonly secretIds?: readonly string[];
  readonly dbInstanceIds?: readonly string[];
};

/** What S3 knows about an existing object when it authorizes a request on it. */
export type ObjectState = { readonly tags: Readonly<Record<string, string>> };

export type AuthzRequest = {
  /** The API call, for messages. */
  readonly call: string;
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, string | string[]>>;
  /** The resource-based policy AWS evaluates together with the identity policies. */
  readonly resourcePolicy: 'bucket' | 'key' | 'none';
  /** Sent by the principal through the VPC's S3 gateway endpoint (its policy applies), or by S3 to KMS. */
  readonly viaS3Endpoint: boolean;
};

const S3_TRANSPORT = {
  'aws:SecureTransport': 'true',
  's3:TlsVersion': '1.3',
  's3:authType': 'REST-HEADER',
  's3:signatureversion': 'AWS4-HMAC-SHA256',
};

function tagContext(
  prefix: 'RequestObjectTag' | 'ExistingObjectTag',
  tags: Readonly<Record<string, string>>,
): Record<string, string | string[]> {
  const ctx: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(tags)) ctx[`s3:${prefix}/${k}`] = v;
  if (prefix === 'RequestObjectTag' && Object.keys(tags).length > 0) ctx['s3:RequestObjectTagKeys'] = Object.keys(tags);
  return ctx;
}

const HEADER_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['x-amz-server-side-encryption', 's3:x-amz-server-side-encryption'],
  ['x-amz-server-side-encryption-aws-kms-key-id', 's3:x-amz-server-side-encryption-aws-kms-key-id'],
  ['if-none-match', 's3:if-none-match'],
  ['if-match', 's3:if-match'],
  ['x-amz-acl', 's3:x-amz-acl'],
  ['x-amz-storage-class', 's3:x-amz-storage-class'],
  ['x-amz-copy-source', 's3:x-amz-copy-source'],
  ['x-amz-metadata-directive', 's3:x-amz-metadata-directive'],
];

export type MapOptions = {
  readonly deployment: Deployment;
  readonly aliases?: Aliases;
  /** The object as it exists before the call (null: no such key); drives s3:ExistingObjectTag/<key>. */
  readonly existing?: ObjectState | null;
};

/** Every authorization AWS performs for one API call; each must be allowed for the call to succeed. */
export function authorizationsFor(call: ApiCall, options: MapOptions): AuthzRequest[] {
  const d = options.deployment;
  const a = options.aliases ?? {};
  const what = describeCall(call);
  const arnPrefix = `arn:${d.partition}`;
  const principal = { 'aws:PrincipalAccount': d.account };
  switch (call.service) {
    case 's3': {
      const bucket = call.bucket === a.bucket ? d.bucket : call.bucket;
      const bucketArn = `${arnPrefix}:s3:::${bucket}`;
      const objectArn = `${bucketArn}/${call.key}`;
      const h = call.headers;
      const headerContext: Record<string, string> = {};
      for (const [header, key] of HEADER_KEYS)
        if (h[header] !== undefined)
          headerContext[key] = header === 'x-amz-server-side-encryption-aws-kms-key-id' ? kmsKeyArn(h[header]!, d, a) : h[header]!;
      if (call.lock.mode !== undefined) headerContext['s3:object-lock-mode'] = call.lock.mode;
      if (call.lock.retainUntil !== undefined) {
        headerContext['s3:object-lock-retain-until-date'] = call.lock.retainUntil;
        headerContext['s3:object-lock-remaining-retention-days'] = String(
          Math.max(0, Math.ceil((Date.parse(call.lock.retainUntil) - Date.now()) / 86_400_000)),
        );
      }
      if (call.lock.legalHold !== undefined) headerContext['s3:object-lock-legal-hold'] = call.lock.legalHold;
      const base = { ...S3_TRANSPORT, ...principal, 's3:ResourceAccount': d.account };
      const s3 = (action: string, resource: string, context: Record<string, string | string[]> = {}): AuthzRequest => ({
        call: what,
        action,
        resource,
        context: { ...base, ...context },
        resourcePolicy: 'bucket',
        viaS3Endpoint: true,
      });
      const existingTags = tagContext('ExistingObjectTag', options.existing?.tags ?? {});
      const requestTags = tagContext('RequestObjectTag', call.requestTags);
      const versioned = (action: string, versionAction: string, context: Record<string, string | string[]> = {}): AuthzRequest[] =>
        call.versionId
          ? [s3(action, objectArn, context), s3(versionAction, objectArn, { ...context, 's3:versionid': call.versionId })]
          : [s3(action, objectArn, context)];
      const kms = (action: 'kms:GenerateDataKey' | 'kms:Decrypt', keyArn: string): AuthzRequest => ({
        call: `${what} (S3 calls KMS for the caller)`,
        action,
        resource: keyArn,
        context: {
          ...principal,
          'kms:CallerAccount': d.account,
          'kms:ViaService': `s3.${d.region}.amazonaws.com`,
          'kms:EncryptionContext:aws:s3:arn': d.bucketKeyEnabled ? bucketArn : objectArn,
          'kms:EncryptionContextKeys': ['aws:s3:arn'],
        },
        resourcePolicy: 'key',
        viaS3Endpoint: false,
      });
      // The bucket's default encryption is the module's key: a request without the header still uses it.
      const writeKey =
        h['x-amz-server-side-encryption'] === 'aws:kms' && h['x-amz-server-side-encryption-aws-kms-key-id']
          ? kmsKeyArn(h['x-amz-server-side-encryption-aws-kms-key-id'], d, a)
          : d.kmsKeyArn;
      const tagging = Object.keys(requestTags).length > 0 ? [s3('s3:PutObjectTagging', objectArn, { ...requestTags })] : [];
      const bypass = h['x-amz-bypass-governance-retention'] === 'true' ? [s3('s3:BypassGovernanceRetention', objectArn)] : [];
      switch (call.operation) {
        case 'PutObject':
          return [
            s3('s3:PutObject', objectArn, { ...headerContext, ...requestTags, 's3:ObjectCreationOperation': 'true' }),
            ...tagging,
            kms('kms:GenerateDataKey', writeKey),
          ];
        case 'CreateMultipartUpload':
          return [
            s3('s3:PutObject', objectArn, { ...headerContext, ...requestTags, 's3:ObjectCreationOperation': 'false' }),
            ...tagging,
            kms('kms:GenerateDataKey', writeKey),
          ];
        case 'UploadPart':
          return [s3('s3:PutObject', objectArn, { 's3:ObjectCreationOperation': 'false' }), kms('kms:Decrypt', d.kmsKeyArn)];
        case 'CompleteMultipartUpload':
          return [
            s3('s3:PutObject', objectArn, { ...headerContext, 's3:ObjectCreationOperation': 'true' }),
            kms('kms:Decrypt', d.kmsKeyArn),
          ];
        case 'CopyObject': {
          const source =
            decodeURIComponent(h['x-amz-copy-source'] ?? '')
              .replace(/^\//, '')
              .split('?')[0] ?? '';
          const [srcBucket = '', ...srcKey] = source.split('/');
          const srcArn = `${arnPrefix}:s3:::${srcBucket === a.bucket ? d.bucket : srcBucket}/${srcKey.join('/')}`;
          return [
            s3('s3:PutObject', objectArn, { ...headerContext, ...requestTags, 's3:ObjectCreationOperation': 'true' }),
            ...tagging,
            s3('s3:GetObject', srcArn, existingTags),
            kms('kms:GenerateDataKey', writeKey),
          ];
        }
        case 'AbortMultipartUpload':
          return [s3('s3:AbortMultipartUpload', objectArn)];
        case 'ListObjectsV2': {
          const ctx: Record<string, string> = {};
          if (call.query['prefix'] !== undefined) ctx['s3:prefix'] = call.query['prefix'];
          if (call.query['delimiter'] !== undefined) ctx['s3:delimiter'] = call.query['delimiter'];
          if (call.query['max-keys'] !== undefined) ctx['s3:max-keys'] = call.query['max-keys'];
          return [s3('s3:ListBucket', bucketArn, ctx)];
        }
        case 'ListObjectVersions':
          return [s3('s3:ListBucketVersions', bucketArn, call.query['prefix'] !== undefined ? { 's3:prefix': call.query['prefix'] } : {})];
        case 'ListMultipartUploads':
          return [s3('s3:ListBucketMultipartUploads', bucketArn)];
        case 'GetObject':
          return [...versioned('s3:GetObject', 's3:GetObjectVersion', existingTags), kms('kms:Decrypt', d.kmsKeyArn)];
        case 'HeadObject':
          return versioned('s3:GetObject', 's3:GetObjectVersion', existingTags);
        case 'DeleteObject':
          return [...versioned('s3:DeleteObject', 's3:DeleteObjectVersion'), ...bypass];
        case 'PutObjectTagging':
          return versioned('s3:PutObjectTagging', 's3:PutObjectVersionTagging', { ...existingTags, ...requestTags });
        case 'GetObjectTagging':
          return versioned('s3:GetObjectTagging', 's3:GetObjectVersionTagging', existingTags);
        case 'DeleteObjectTagging':
          return versioned('s3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging', existingTags);
        case 'PutObjectRetention':
          return [s3('s3:PutObjectRetention', objectArn, headerContext), ...bypass];
        case 'PutObjectLegalHold':
          return [s3('s3:PutObjectLegalHold', objectArn, headerContext)];
        case 'Other':
          throw new Error(
            `no authorization rule for ${what} (${call.headers['x-amz-target'] ?? 'unclassified S3 request'}): add it to test/support/authz/actions.ts`,
          );
      }
      break;
    }
    case 'secretsmanager': {
      if (call.operation !== 'GetSecretValue') throw new Error(`no authorization rule for ${what}`);
      const secretArn = a.secretIds?.includes(call.secretId) && d.secretArn ? d.secretArn : call.secretId;
      const out: AuthzRequest[] = [
        {
          call: what,
          action: 'secretsmanager:GetSecretValue',
          resource: secretArn,
          context: principal,
          resourcePolicy: 'none',
          viaS3Endpoint: false,
        },
      ];
      if (d.secretKmsKeyArn) {
        out.push({
          call: `${what} (Secrets Manager calls KMS for the caller)`,
          action: 'kms:Decrypt',
          resource: d.secretKmsKeyArn,
          context: {
            ...principal,
            'kms:CallerAccount': d.account,
            'kms:ViaService': `secretsmanager.${d.region}.amazonaws.com`,
            'kms:EncryptionContext:SecretARN': secretArn,
          },
          resourcePolicy: 'key',
          viaS3Endpoint: false,
        });
      }
      return out;
    }
    case 'rds': {
      if (call.operation !== 'DescribeDBInstances') throw new Error(`no authorization rule for ${what}`);
      const id = call.dbInstanceIdentifier ?? '';
      const arn = id.startsWith('arn:')
        ? id
        : a.dbInstanceIds?.includes(id) && d.dbInstanceArn
          ? d.dbInstanceArn
          : `${arnPrefix}:rds:${d.region}:${d.account}:db:${id}`;
      return [
        { call: what, action: 'rds:DescribeDBInstances', resource: arn, context: principal, resourcePolicy: 'none', viaS3Endpoint: false },
      ];
    }
    case 'rds-db':
      return [
        {
          call: what,
          action: 'rds-db:connect',
          resource: d.dbUserArn ?? `${arnPrefix}:rds-db:${d.region}:${d.account}:dbuser:unknown/${call.dbUser}`,
          context: principal,
          resourcePolicy: 'none',
          viaS3Endpoint: false,
        },
      ];
    case 'kms':
      throw new Error(`the engine called KMS directly (${what}): it only ever uses the key through S3`);
  }
  throw new Error(`no authorization rule for ${what}`);
}

function kmsKeyArn(id: string, d: Deployment, a: Aliases): string {
  return a.kmsKeyIds?.includes(id) ? d.kmsKeyArn : id;
}
