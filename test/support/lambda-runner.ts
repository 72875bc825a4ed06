// Runs the built Lambda artifact the way test/integration/lambda.test.ts does: dist/function.zip and the pgtools
// layer unpacked to a temp dir, a separate Node 24 process imports index.mjs, fakes the context and calls
// index.handler. Here for the reliability suite (faults and the secrets harness), which also needs the process id
// (to sample /proc) and the raw output.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DIST, ensureLambdaArtifacts, LAYER_ARCH } from './dist.ts';

export const LAMBDA_SERVICE = 'rds-s3-backup-reliability';

const RUNNER = String.raw`
import { writeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
const [indexFile, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
const out = (o) => writeSync(3, JSON.stringify(o) + '\n');
const mod = await import(pathToFileURL(indexFile).href);
let failed = false;
for (const inv of spec.invocations) {
  const deadline = Date.now() + inv.timeoutMs;
  const context = {
    awsRequestId: randomUUID(),
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:' + process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: '1024',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const t = performance.now();
  try {
    const value = await mod.handler(inv.event, context);
    out({ ok: true, value, ms: performance.now() - t, remainingMs: deadline - Date.now() });
  } catch (e) {
    failed = true;
    // What Lambda records for a failed invocation: errorType, errorMessage, stack (and here the cause chain too).
    const chain = [];
    for (let c = e?.cause; c !== undefined && chain.length < 10; c = c?.cause) chain.push(typeof c === 'object' ? { name: c?.name, message: c?.message, stack: c?.stack } : String(c));
    out({ ok: false, error: { name: e?.name, message: e?.message, stack: e?.stack, hint: e?.hint ?? null, causes: chain }, ms: performance.now() - t, remainingMs: deadline - Date.now() });
  }
}
process.exit(failed ? 1 : 0);
`;

export type LambdaResult =
  | {
      ok: true;
      value: { backups: { database: string | null; key: string; manifestKey: string | null }[] };
      ms: number;
      remainingMs: number;
    }
  | {
      ok: false;
      error: { name: string; message: string; stack: string; hint: string | null; causes: unknown[] };
      ms: number;
      remainingMs: number;
    };

export type LambdaRun = { code: number | null; results: LambdaResult[]; stdout: string; stderr: string };

export type LambdaHarness = {
  readonly pgtoolsDir: string;
  /** The function's environment as Lambda would set it, plus `extra`. */
  env(extra: Record<string, string>): Record<string, string>;
  /** Starts one runner process for the invocations; `pid` is known at once (for /proc sampling). */
  start(
    env: Record<string, string>,
    invocations: { event: unknown; timeoutMs?: number }[],
  ): { pid: number | undefined; done: Promise<LambdaRun> };
  dispose(): void;
};

export function prepareLambda(): LambdaHarness {
  ensureLambdaArtifacts();
  const work = mkdtempSync(path.join(tmpdir(), 'rsb-reliability-lambda-'));
  const functionDir = path.join(work, 'task');
  const opt = path.join(work, 'opt');
  execFileSync('unzip', ['-q', path.join(DIST, 'function.zip'), '-d', functionDir]);
  execFileSync('unzip', ['-q', path.join(DIST, `pgtools-layer-${LAYER_ARCH}.zip`), '-d', opt]);
  const pgtoolsDir = path.join(opt, 'pgtools');
  const runnerFile = path.join(work, 'runner.mjs');
  writeFileSync(runnerFile, RUNNER);
  return {
    pgtoolsDir,
    env: (extra) => ({
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      AWS_LAMBDA_FUNCTION_NAME: LAMBDA_SERVICE,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      LAMBDA_TASK_ROOT: functionDir,
      _HANDLER: 'index.handler',
      POWERTOOLS_SERVICE_NAME: LAMBDA_SERVICE,
      POWERTOOLS_METRICS_NAMESPACE: 'RdsS3Backup',
      RDS_S3_BACKUP_PGTOOLS_DIR: pgtoolsDir,
      ...extra,
    }),
    start(env, invocations) {
      const spec = { invocations: invocations.map((i) => ({ event: i.event, timeoutMs: i.timeoutMs ?? 300_000 })) };
      const child = spawn(process.execPath, [runnerFile, path.join(functionDir, 'index.mjs'), JSON.stringify(spec)], {
        cwd: functionDir,
        env,
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      });
      const collect = (s: NodeJS.ReadableStream | null): Promise<string> =>
        new Promise((resolve) => {
          let text = '';
          s?.setEncoding('utf8');
          s?.on('data', (c: string) => (text += c));
          s?.on('end', () => resolve(text));
        });
      const done = Promise.all([
        collect(child.stdout),
        collect(child.stderr),
        collect(child.stdio[3] as NodeJS.ReadableStream),
        new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c))),
      ]).then(([stdout, stderr, protocol, code]) => ({
        code,
        stdout,
        stderr,
        results: protocol
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as LambdaResult),
      }));
      return { pid: child.pid, done };
    },
    dispose: () => rmSync(work, { recursive: true, force: true }),
  };
}

export function scheduledEvent(detail: unknown = {}): Record<string, unknown> {
  return {
    version: '0',
    id: 'c9e0a0b4-0000-4000-8000-0000000000aa',
    'detail-type': 'Scheduled Event',
    source: 'aws.scheduler',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'us-east-1',
    resources: ['arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly'],
    detail,
  };
}
