// A real S3-protocol server for tests: moto (the AWS emulator), installed by scripts/install-moto.sh into
// .cache/moto and started through scripts/moto-server.py with Debian's /usr/bin/python3.
// Why moto and its quirks: shared/notes/s3-test-server.md. It keeps objects in memory (≈3× their size).
//
// IAM enforcement (`iamEnforce: true`) is global to one moto process, so such a server is never shared with
// tests that expect anonymous access. How it is set up, and how a test adds its own principals:
//   1. moto starts with no enforcement (INITIAL_NO_AUTH_ACTION_COUNT unset = infinite);
//   2. the harness creates the IAM user `admin` with an inline `*:*` policy and an access key
//      (`server.credentials`); s3() and env() use that key;
//   3. `POST /moto-api/reset-auth` with body `0` switches enforcement on: from then on every request must be
//      SigV4-signed by a known key and allowed by that principal's policies;
//   4. tests create least-privilege principals through the admin with
//      `await server.createUser('writer', policyDocument)` (returns an access key) or any IAM action with
//      `await server.iam('CreatePolicy', { PolicyName, PolicyDocument })` (signed with the admin key), then
//      use `server.s3(key)` / `server.env(key)` for that principal.
// reset() wipes IAM too; on an enforcing server it re-creates the admin with a NEW key, so fetch s3()/env()
// again after a reset.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateBucketCommand,
  ListMultipartUploadsCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { freePort, killSync, onProcessExit, spawnManaged, tail } from './process.ts';
import { signFormPost, type Credentials } from './sigv4.ts';

export type { Credentials } from './sigv4.ts';

export type StartMotoOptions = {
  /** Enforce IAM (see the comment at the top of this file). */
  iamEnforce?: boolean;
};

export type MotoServer = {
  readonly endpoint: string;
  readonly port: number;
  readonly region: 'us-east-1';
  readonly iamEnforced: boolean;
  /** The admin key on an enforcing server (changes on reset()); dummy credentials otherwise. */
  readonly credentials: Credentials;
  /** How long startMoto took, in milliseconds. */
  readonly startupMs: number;
  /** An S3 client for this server (path style, us-east-1); with `credentials` or the admin/dummy key. */
  s3(credentials?: Credentials): S3Client;
  /**
   * Creates a bucket with a unique name (or `name`) and returns the name. Versioned unless `versioned: false`,
   * as the module's bucket is (versioning changes which permissions requests need and what overwrites do).
   */
  createBucket(name?: string, options?: { versioned?: boolean }): Promise<string>;
  /** A versioned bucket with Object Lock on and a default retention (GOVERNANCE, 1 day unless given). */
  createLockedBucket(options?: { mode?: 'GOVERNANCE' | 'COMPLIANCE'; days?: number }): Promise<string>;
  listMultipartUploads(bucket: string): Promise<Array<{ Key: string; UploadId: string }>>;
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  /** AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_FORCE_PATH_STYLE. */
  env(credentials?: Credentials): Record<string, string>;
  /** Calls an IAM query-API action (signed with `credentials`, default admin); returns the XML response. */
  iam(action: string, params?: Record<string, string>, credentials?: Credentials): Promise<string>;
  /** IAM user `name` with inline policy `policy` (a policy document object); returns a new access key. */
  createUser(name: string, policy: object): Promise<Credentials & { arn: string }>;
  /** Forgets every bucket, object, key and user (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  stop(): Promise<void>;
};

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SITE = path.join(REPO, '.cache', 'moto', 'usr', 'lib', 'python3', 'dist-packages');
const LAUNCHER = path.join(REPO, 'scripts', 'moto-server.py');
const PYTHON = '/usr/bin/python3';
const REGION = 'us-east-1';
const DUMMY: Credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const START_TIMEOUT_MS = 60_000;

export async function startMoto(opts: StartMotoOptions = {}): Promise<MotoServer> {
  const t0 = performance.now();
  if (!existsSync(path.join(SITE, 'moto'))) {
    throw new Error(`moto is not installed in ${SITE}: run 'bash scripts/setup-test-deps.sh'`);
  }
  const env = {
    PATH: '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: process.env['HOME'] ?? '/root',
    PYTHONPATH: SITE,
  };

  let proc: ReturnType<typeof spawnManaged> | undefined;
  let port = 0;
  let endpoint = '';
  const unregister = onProcessExit(() => {
    if (proc?.isRunning()) killSync(proc.pid, 'SIGKILL', 2000);
  });
  try {
    // The port can be taken between freePort() and moto binding it (parallel test files): retry.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      endpoint = `http://127.0.0.1:${port}`;
      proc = spawnManaged(PYTHON, [LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
        name: `moto (port ${port})`,
        env,
        deathSignal: 'SIGKILL',
      });
      if (await waitUntilAnswering(endpoint, proc)) break;
      await proc.stop('SIGKILL', 1000);
      if (attempt < 5 && /Address already in use/.test(proc.output())) continue;
      throw new Error(`moto did not start on port ${port}:\n${tail(proc.output())}`);
    }
    proc.unref();
    const server = proc;

    let credentials = DUMMY;
    const clients = new Map<string, S3Client>();
    const s3 = (key: Credentials = credentials): S3Client => {
      let client = clients.get(key.accessKeyId);
      if (!client) {
        client = new S3Client({
          endpoint,
          region: REGION,
          forcePathStyle: true,
          credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
        });
        clients.set(key.accessKeyId, client);
      }
      return client;
    };

    const iam = async (action: string, params: Record<string, string> = {}, key: Credentials = credentials): Promise<string> => {
      // Encoded the way botocore does (RFC 3986, `*` too): moto re-encodes the form when it checks the signature.
      const body = Object.entries({ Action: action, Version: '2010-05-08', ...params })
        .map(([name, value]) => `${awsEncode(name)}=${awsEncode(value)}`)
        .join('&');
      const headers = signFormPost({ endpoint, body, service: 'iam', region: REGION, credentials: key });
      const response = await fetch(`${endpoint}/`, { method: 'POST', headers, body });
      const text = await response.text();
      if (!response.ok) throw new Error(`IAM ${action} failed: HTTP ${response.status}: ${text.slice(0, 500)}`);
      return text;
    };
    const xmlValue = (xml: string, tag: string): string => {
      const match = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
      if (!match?.[1]) throw new Error(`no <${tag}> in IAM response: ${xml.slice(0, 300)}`);
      return match[1];
    };
    const createUser = async (name: string, policy: object): Promise<Credentials & { arn: string }> => {
      const user = await iam('CreateUser', { UserName: name });
      await iam('PutUserPolicy', { UserName: name, PolicyName: `${name}-inline`, PolicyDocument: JSON.stringify(policy) });
      const key = await iam('CreateAccessKey', { UserName: name });
      return { accessKeyId: xmlValue(key, 'AccessKeyId'), secretAccessKey: xmlValue(key, 'SecretAccessKey'), arn: xmlValue(user, 'Arn') };
    };
    const motoApi = async (what: string, body?: string): Promise<void> => {
      const response = await fetch(`${endpoint}/moto-api/${what}`, { method: 'POST', body: body ?? null });
      if (!response.ok) throw new Error(`POST /moto-api/${what}: HTTP ${response.status}: ${await response.text()}`);
    };
    const enforce = async (): Promise<void> => {
      // Requests before this point are anonymous (moto's default), so the admin can be created with any key.
      await motoApi('reset-auth', 'inf');
      const admin = await createUser('admin', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
      credentials = { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey };
      await motoApi('reset-auth', '0');
    };
    if (opts.iamEnforce) await enforce();

    let stopping: Promise<void> | undefined;
    return {
      endpoint,
      port,
      region: REGION,
      iamEnforced: Boolean(opts.iamEnforce),
      get credentials() {
        return credentials;
      },
      startupMs: Math.round(performance.now() - t0),
      s3,
      async createBucket(name, options = {}) {
        const bucket = name ?? uniqueBucketName();
        await s3().send(new CreateBucketCommand({ Bucket: bucket }));
        if (options.versioned !== false)
          await s3().send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
        return bucket;
      },
      async createLockedBucket(options = {}) {
        const bucket = uniqueBucketName();
        // Object Lock can only be switched on at creation here (moto); it turns versioning on by itself.
        await s3().send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
        await s3().send(
          new PutObjectLockConfigurationCommand({
            Bucket: bucket,
            ObjectLockConfiguration: {
              ObjectLockEnabled: 'Enabled',
              Rule: { DefaultRetention: { Mode: options.mode ?? 'GOVERNANCE', Days: options.days ?? 1 } },
            },
          }),
        );
        return bucket;
      },
      async listMultipartUploads(bucket) {
        const uploads: Array<{ Key: string; UploadId: string }> = [];
        let KeyMarker: string | undefined;
        let UploadIdMarker: string | undefined;
        for (;;) {
          const page = await s3().send(new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker, UploadIdMarker }));
          for (const upload of page.Uploads ?? []) uploads.push({ Key: upload.Key ?? '', UploadId: upload.UploadId ?? '' });
          if (!page.IsTruncated) return uploads;
          KeyMarker = page.NextKeyMarker;
          UploadIdMarker = page.NextUploadIdMarker;
        }
      },
      async listKeys(bucket, prefix) {
        const keys: string[] = [];
        for await (const page of paginateListObjectsV2({ client: s3() }, { Bucket: bucket, Prefix: prefix })) {
          for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
        }
        return keys;
      },
      env: (key = credentials) => ({
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_ACCESS_KEY_ID: key.accessKeyId,
        AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        AWS_S3_FORCE_PATH_STYLE: 'true',
      }),
      iam,
      createUser,
      async reset() {
        if (opts.iamEnforce) await motoApi('reset-auth', 'inf');
        await motoApi('reset');
        for (const client of clients.values()) client.destroy();
        clients.clear();
        credentials = DUMMY;
        if (opts.iamEnforce) await enforce();
      },
      stop: () =>
        (stopping ??= (async () => {
          for (const client of clients.values()) client.destroy();
          clients.clear();
          await server.stop('SIGTERM', 3000);
          unregister();
        })()),
    };
  } catch (error) {
    if (proc?.isRunning()) await proc.stop('SIGKILL', 1000);
    unregister();
    throw error;
  }
}

function uniqueBucketName(): string {
  return `test-${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
}

function awsEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Polls until moto answers HTTP (true) or its process exits / the timeout passes (false). */
async function waitUntilAnswering(endpoint: string, proc: ReturnType<typeof spawnManaged>): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && proc.isRunning()) {
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.ok) return true;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
