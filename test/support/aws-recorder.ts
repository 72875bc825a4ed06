// Records every AWS request the code under test makes: an HTTP proxy in front of moto that logs each request's
// service (from the SigV4 credential scope), method, path, query, headers and — for the small JSON/form APIs
// (Secrets Manager, RDS, KMS) — its body, plus the status moto answered. Point the child process at it with
// AWS_ENDPOINT_URL=recorder.endpoint: the CLI and the bundled Lambda are recorded alike, without any hook in the
// product code. test/support/authz maps the records to IAM actions.
//
// Only ever listens on 127.0.0.1 and forwards to the given loopback target. Authorization and session-token
// headers are dropped from the records; S3 bodies (backup data) are never kept, and responses are never recorded
// (GetSecretValue's answer holds a password).
import http from 'node:http';

export type RecordedRequest = {
  /** Position among all requests the recorder has seen (1-based). */
  readonly seq: number;
  /** From the SigV4 credential scope, e.g. `s3`, `secretsmanager`, `rds`, `kms`; '' when unsigned. */
  readonly service: string;
  readonly region: string;
  readonly method: string;
  /** The raw (still percent-encoded) path, e.g. `/bucket/prod/app%20db/x.dump`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Lower-case names; authorization and x-amz-security-token removed. */
  readonly headers: Readonly<Record<string, string>>;
  /** Request body of non-S3 calls and of S3 tagging/retention/legal-hold calls (at most 64 KiB); else null. */
  readonly body: string | null;
  /** HTTP status the server answered; 0 when the request never got an answer. */
  status: number;
};

export type AwsRecorder = {
  readonly endpoint: string;
  /** Everything recorded so far, in arrival order. */
  requests(): readonly RecordedRequest[];
  /** Forgets what was recorded (for a fresh recording per scenario). */
  clear(): void;
  stop(): Promise<void>;
};

const BODY_CAP = 64 * 1024;
const DROPPED_HEADERS = new Set(['authorization', 'x-amz-security-token', 'connection', 'keep-alive', 'transfer-encoding']);

function credentialScope(authorization: string | undefined): { service: string; region: string } {
  // AWS4-HMAC-SHA256 Credential=AKID/20261203/us-east-1/s3/aws4_request, SignedHeaders=..., Signature=...
  const m = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return { service: m?.[2] ?? '', region: m?.[1] ?? '' };
}

export async function startAwsRecorder(target: string): Promise<AwsRecorder> {
  const upstream = new URL(target);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(upstream.hostname))
    throw new Error(`the recorder only forwards to loopback, not ${target}`);
  let records: RecordedRequest[] = [];
  let seq = 0;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://recorder.invalid');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || DROPPED_HEADERS.has(name)) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const { service, region } = credentialScope(req.headers.authorization);
    const record: RecordedRequest = {
      seq: ++seq,
      service,
      region,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: null,
      status: 0,
    };
    records.push(record);
    // S3 bodies are backup data, except the small XML of sub-resources that authorization depends on (tags,
    // retention, legal hold).
    const keepBody =
      service !== 's3' || url.searchParams.has('tagging') || url.searchParams.has('retention') || url.searchParams.has('legal-hold');
    const chunks: Buffer[] = [];
    let kept = 0;

    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        record.status = answer.statusCode ?? 0;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`recorder: upstream failed: ${err.message}`);
    });
    req.on('data', (chunk: Buffer) => {
      if (keepBody && kept < BODY_CAP) {
        chunks.push(chunk.subarray(0, BODY_CAP - kept));
        kept += Math.min(chunk.length, BODY_CAP - kept);
      }
    });
    req.on('end', () => {
      if (keepBody) (record as { body: string | null }).body = Buffer.concat(chunks).toString('utf8');
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('recorder: no port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    requests: () => records.slice(),
    clear: () => {
      records = [];
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
