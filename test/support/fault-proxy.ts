// A fault-injecting HTTP proxy in front of moto, for the reliability suite (test/integration/reliability).
//
// Point the code under test at it with AWS_ENDPOINT_URL=proxy.endpoint; it forwards every request to moto
// unchanged unless the current rule says otherwise for that request:
//   - { kind: 'status' }  answer an S3 error (XML body, e.g. 500 InternalError, 503 SlowDown, 403 AccessDenied)
//                         after reading the request body, without forwarding;
//   - { kind: 'reset' }   TCP RST on the client connection (optionally after some request-body bytes);
//   - { kind: 'delay' }   forward after a pause (slow responses);
//   - { kind: 'hang' }    accept the request and never answer (a stalled connection);
//   - { kind: 'corrupt' } forward, but flip the byte at `offset` of the response body (a damaged range);
// and disappear() closes the port and resets every open connection: S3 is gone for good (ECONNREFUSED).
// Only ever listens on 127.0.0.1 and only forwards to the given loopback target.
import http from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export type S3Op =
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'PutObject'
  | 'PutObjectTagging'
  | 'GetObject'
  | 'HeadObject'
  | 'ListObjectsV2'
  | 'ListMultipartUploads'
  | 'Other';

export type ProxyRequest = {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly op: S3Op;
  readonly key: string;
  readonly partNumber: number | null;
  /** 1 for the first time this (op, key, part) is seen, 2 for its first retry, ... */
  readonly attempt: number;
  /** Position of this request among all requests the proxy has seen (1-based). */
  readonly seq: number;
  /** The Range and If-Match headers (ranged, version-pinned GETs), null when absent. */
  readonly range: string | null;
  readonly ifMatch: string | null;
};

export type FaultAction =
  | { readonly kind: 'pass' }
  | { readonly kind: 'status'; readonly status: number; readonly code: string; readonly message?: string }
  | { readonly kind: 'reset'; readonly afterBodyBytes?: number }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'corrupt'; readonly offset: number };

export type FaultRule = (req: ProxyRequest) => FaultAction | undefined;

export type ProxyLogEntry = {
  readonly seq: number;
  readonly op: S3Op;
  readonly key: string;
  readonly partNumber: number | null;
  readonly attempt: number;
  readonly action: FaultAction['kind'];
  /** When the request arrived (ms since the epoch). */
  readonly at: number;
  readonly range: string | null;
  readonly ifMatch: string | null;
  /** HTTP status sent to the client; null when the connection was reset, hung or the proxy disappeared. */
  status: number | null;
  /** When the response body was completely sent (ms since the epoch); null until then. */
  endedAt: number | null;
};

export type FaultProxy = {
  readonly endpoint: string;
  readonly port: number;
  readonly log: readonly ProxyLogEntry[];
  setRule(rule: FaultRule | undefined): void;
  /** Resolves when a request matching `pred` has been seen (checked against past requests too). */
  waitFor(pred: (e: ProxyLogEntry) => boolean, timeoutMs?: number): Promise<ProxyLogEntry>;
  /** Close the listening port and reset every open connection; later connects are refused. */
  disappear(): Promise<void>;
  stop(): Promise<void>;
};

export function classify(method: string, query: URLSearchParams): S3Op {
  if (method === 'POST' && query.has('uploads')) return 'CreateMultipartUpload';
  if (method === 'PUT' && query.has('partNumber') && query.has('uploadId')) return 'UploadPart';
  if (method === 'POST' && query.has('uploadId')) return 'CompleteMultipartUpload';
  if (method === 'DELETE' && query.has('uploadId')) return 'AbortMultipartUpload';
  if (method === 'PUT' && query.has('tagging')) return 'PutObjectTagging';
  if (method === 'PUT') return 'PutObject';
  if (method === 'GET' && query.has('uploads')) return 'ListMultipartUploads';
  if (method === 'GET' && (query.get('list-type') === '2' || query.has('prefix'))) return 'ListObjectsV2';
  if (method === 'GET') return 'GetObject';
  if (method === 'HEAD') return 'HeadObject';
  return 'Other';
}

function errorXml(code: string, message: string, resource: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Resource>${resource}</Resource><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`;
}

const DEFAULT_MESSAGES: Record<string, string> = {
  InternalError: 'We encountered an internal error. Please try again.',
  ServiceUnavailable: 'Please reduce your request rate.',
  SlowDown: 'Please reduce your request rate.',
  AccessDenied: 'Access Denied',
};

export async function startFaultProxy(target: string, rule?: FaultRule): Promise<FaultProxy> {
  const upstream = new URL(target);
  if (!['127.0.0.1', 'localhost'].includes(upstream.hostname)) throw new Error('the fault proxy only forwards to loopback');
  let current = rule;
  const log: ProxyLogEntry[] = [];
  const attempts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  let seq = 0;
  let gone = false;

  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const query = url.searchParams;
    const op = classify(req.method ?? 'GET', query);
    // Path style: /bucket/key...
    const key = decodeURIComponent(url.pathname.split('/').slice(2).join('/'));
    const partNumber = query.has('partNumber') ? Number(query.get('partNumber')) : null;
    const id = `${op} ${key} ${partNumber ?? ''}`;
    const attempt = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, attempt);
    const range = req.headers.range ?? null;
    const ifMatch = req.headers['if-match'] ?? null;
    const request: ProxyRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      op,
      key,
      partNumber,
      attempt,
      seq: ++seq,
      range,
      ifMatch,
    };
    const action: FaultAction = current?.(request) ?? { kind: 'pass' };
    const entry: ProxyLogEntry = {
      seq: request.seq,
      op,
      key,
      partNumber,
      attempt,
      action: action.kind,
      at: Date.now(),
      range,
      ifMatch,
      status: null,
      endedAt: null,
    };
    log.push(entry);
    notify();

    const forward = (corruptAt?: number): void => {
      if (gone) {
        req.socket.resetAndDestroy();
        return;
      }
      const headers: [string, string][] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        // The proxy reads the whole body anyway; letting moto see Expect would make it wait for a 100 we never relay.
        if (req.rawHeaders[i]!.toLowerCase() === 'expect') continue;
        headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
      }
      const up = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: headers.flat(), agent: false },
        (upRes) => {
          entry.status = upRes.statusCode ?? null;
          notify();
          const out: string[] = [];
          for (let i = 0; i < upRes.rawHeaders.length; i += 2) out.push(upRes.rawHeaders[i]!, upRes.rawHeaders[i + 1]!);
          res.writeHead(upRes.statusCode ?? 502, out);
          res.on('finish', () => {
            entry.endedAt = Date.now();
            notify();
          });
          if (corruptAt === undefined) {
            upRes.pipe(res);
            return;
          }
          let seen = 0;
          upRes.on('data', (c: Buffer) => {
            if (corruptAt >= seen && corruptAt < seen + c.length) c[corruptAt - seen] = (c[corruptAt - seen] ?? 0) ^ 0xff;
            seen += c.length;
            res.write(c);
          });
          upRes.on('end', () => res.end());
        },
      );
      up.on('error', () => {
        entry.status = null;
        req.socket.resetAndDestroy();
      });
      req.pipe(up);
    };

    switch (action.kind) {
      case 'pass':
        forward();
        return;
      case 'delay':
        setTimeout(forward, action.ms).unref();
        return;
      case 'corrupt':
        forward(action.offset);
        return;
      case 'hang':
        req.resume();
        return;
      case 'reset': {
        const after = action.afterBodyBytes ?? 0;
        if (after <= 0) {
          req.socket.resetAndDestroy();
          return;
        }
        let seen = 0;
        req.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen >= after) req.socket.resetAndDestroy();
        });
        req.on('end', () => req.socket.resetAndDestroy());
        return;
      }
      case 'status': {
        req.resume();
        req.on('end', () => {
          const body = errorXml(action.code, action.message ?? DEFAULT_MESSAGES[action.code] ?? action.code, url.pathname);
          entry.status = action.status;
          notify();
          res.writeHead(action.status, {
            'content-type': 'application/xml',
            'content-length': Buffer.byteLength(body),
            'x-amz-request-id': randomBytes(8).toString('hex'),
          });
          res.end(body);
        });
        return;
      }
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('fault proxy has no port');
  const port = address.port;

  const close = async (): Promise<void> => {
    gone = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.resetAndDestroy();
    await closed;
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    log,
    setRule(r) {
      current = r;
    },
    waitFor(pred, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = log.find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `fault proxy: no matching request within ${timeoutMs} ms; saw ${log.map((e) => `${e.op}#${e.partNumber ?? ''}/${e.attempt}=${e.status}`).join(', ')}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    disappear: close,
    stop: () => (gone ? Promise.resolve() : close()),
  };
}

/** Rule helpers. */
export const faults = {
  /** `action` for the given attempts (default: the first) of UploadPart `part`. */
  onPart(part: number, action: FaultAction, attempts: readonly number[] | 'all' = [1]): FaultRule {
    return (r) =>
      r.op === 'UploadPart' && r.partNumber === part && (attempts === 'all' || attempts.includes(r.attempt)) ? action : undefined;
  },
  onOp(op: S3Op, action: FaultAction, attempts: readonly number[] | 'all' = 'all'): FaultRule {
    return (r) => (r.op === op && (attempts === 'all' || attempts.includes(r.attempt)) ? action : undefined);
  },
  all(...rules: FaultRule[]): FaultRule {
    return (r) => {
      for (const rule of rules) {
        const a = rule(r);
        if (a) return a;
      }
      return undefined;
    };
  },
};
