// Evidence collection for the secrets harness (test/integration/reliability/secrets.test.ts): every text a run
// left or showed, every process command line of its tree, and pg_dump's environment; then one search for the
// secrets. Each test makes its own Evidence, so each test is judged on what it ran.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { startCli, type CliResult } from './cli.ts';
import type { MotoServer } from './moto.ts';
import { describeSample, processTree, sampleProcesses, type ProcSample } from './proc-sampler.ts';
import type { LambdaHarness, LambdaRun } from './lambda-runner.ts';

export type DumpEnvironment = { pid: number; names: string[]; raw: string };

export type Evidence = {
  /** Everything to search, labelled for the failure message. */
  readonly texts: { label: string; text: string }[];
  readonly samples: ProcSample[];
  readonly dumpEnvironments: DumpEnvironment[];
  /** Names directly under the temp dir when the evidence was opened (their contents are not this test's). */
  readonly tmpBefore: ReadonlySet<string>;
};

export function openEvidence(): Evidence {
  return { texts: [], samples: [], dumpEnvironments: [], tmpBefore: new Set(readdirSync(os.tmpdir())) };
}

export function addText(ev: Evidence, label: string, text: string): void {
  ev.texts.push({ label, text });
}

/** pg_dump / pg_dumpall processes seen: record their environment variable names (and raw text for the AWS key). */
function recordDumpEnvironments(ev: Evidence, root: number): void {
  for (const pid of processTree(root)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/pg_dump/.test(cmd)) continue;
      const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
      ev.dumpEnvironments.push({
        pid,
        raw,
        names: raw
          .split('\0')
          .filter(Boolean)
          .map((kv) => kv.split('=')[0]!),
      });
    } catch {
      // exited
    }
  }
}

function watch(ev: Evidence, pid: number): () => void {
  const sampler = sampleProcesses(pid);
  const envTimer = setInterval(() => recordDumpEnvironments(ev, pid), 20);
  return () => {
    clearInterval(envTimer);
    ev.samples.push(...sampler.stop());
  };
}

/** Runs the CLI while sampling its process tree; its stdout and stderr become evidence. */
export async function cliRun(
  ev: Evidence,
  label: string,
  args: string[],
  env: Record<string, string>,
  during?: (pid: number) => Promise<void>,
): Promise<CliResult> {
  const run = startCli(args, env);
  const stop = watch(ev, run.pid!);
  if (during) await during(run.pid!);
  const res = await run.result;
  stop();
  addText(ev, `${label} stdout`, res.stdout);
  addText(ev, `${label} stderr`, res.stderr);
  return res;
}

/** Runs the built Lambda artifact once while sampling its process tree. */
export async function lambdaRun(
  ev: Evidence,
  lambda: LambdaHarness,
  label: string,
  env: Record<string, string>,
  event: unknown,
  timeoutMs?: number,
): Promise<LambdaRun> {
  const run = lambda.start(lambda.env(env), [{ event, ...(timeoutMs ? { timeoutMs } : {}) }]);
  const stop = watch(ev, run.pid!);
  const out = await run.done;
  stop();
  addText(ev, `${label} stdout`, out.stdout);
  addText(ev, `${label} stderr`, out.stderr);
  addText(ev, `${label} result`, JSON.stringify(out.results));
  return out;
}

/** Every object under `prefix`, with its metadata and tags, becomes evidence. */
export async function addObjects(ev: Evidence, moto: MotoServer, bucket: string, prefix = ''): Promise<number> {
  const keys = (await moto.listKeys(bucket)).filter((k) => k.startsWith(prefix));
  for (const key of keys) {
    const body = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    addText(ev, `object ${key}`, Buffer.from(await body.Body!.transformToByteArray()).toString('latin1'));
    const head = await moto.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    addText(ev, `metadata ${key}`, JSON.stringify(head.Metadata));
    const tags = await moto.s3().send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
    addText(ev, `tags ${key}`, JSON.stringify(tags.TagSet));
  }
  return keys.length;
}

function walk(p: string, depth = 0): string[] {
  try {
    const st = statSync(p);
    if (st.isFile()) return st.size < 64 * 1024 * 1024 ? [p] : [];
    if (!st.isDirectory() || depth > 6) return [];
    return readdirSync(p).flatMap((n) => walk(path.join(p, n), depth + 1));
  } catch {
    return [];
  }
}

/** Files new under the temp dir since openEvidence (test servers excluded) and under `extraDirs` become evidence. */
export function addTempFiles(ev: Evidence, extraDirs: string[] = []): string[] {
  const fresh = readdirSync(os.tmpdir()).filter((n) => !ev.tmpBefore.has(n) && !n.startsWith('rds-s3-backup-pg'));
  const files = [...fresh.flatMap((n) => walk(path.join(os.tmpdir(), n))), ...extraDirs.flatMap((d) => walk(d))];
  for (const f of files) {
    try {
      if (existsSync(f)) addText(ev, `temp file ${f}`, readFileSync(f).toString('latin1'));
    } catch {
      // removed by its owner meanwhile
    }
  }
  return files;
}

/**
 * Where a secret (or its URL encoding) appears: in any text, or in the argv of any sampled process other than the
 * roots (the CLI / Lambda runner, started by the test with arguments it chose) and fork copies of them (a copy
 * shows its parent's argv, see proc-sampler.ts). Each argv hit names the process's executable and parent.
 */
export function secretHits(ev: Evidence, secrets: readonly string[]): string[] {
  const hits: string[] = [];
  const has = (text: string, s: string): boolean => text.includes(s) || text.includes(encodeURIComponent(s));
  for (const { label, text } of ev.texts) {
    for (const s of secrets) if (has(text, s)) hits.push(`${label}: contains ${s.slice(0, 12)}…`);
  }
  const roots = new Set(ev.samples.filter((p) => p.root).map((p) => p.pid));
  for (const p of ev.samples) {
    // A fork copy's argv is its parent's: searched as the parent's unless the parent is a root.
    if (p.root || (p.forkCopy && roots.has(p.ppid))) continue;
    const who = p.forkCopy ? `pid ${p.ppid} (seen in its fork copy ${describeSample(p)})` : describeSample(p);
    for (const s of secrets) if (has(p.cmdline, s)) hits.push(`argv of ${who}: contains ${s.slice(0, 12)}…`);
  }
  return hits;
}

/** Fork copies that showed a secret (only their parent's argv, so not hits): counted for the log line. */
export function forkCopiesWithSecret(ev: Evidence, secrets: readonly string[]): ProcSample[] {
  return ev.samples.filter((p) => p.forkCopy && secrets.some((s) => p.cmdline.includes(s) || p.cmdline.includes(encodeURIComponent(s))));
}

export function summary(ev: Evidence): string {
  const mib = (ev.texts.reduce((n, h) => n + h.text.length, 0) / 1024 / 1024).toFixed(1);
  const copies = ev.samples.filter((s) => s.forkCopy).length;
  return `searched ${ev.texts.length} texts (${mib} MiB), ${ev.samples.length} process samples (${copies} fork copies before exec), ${ev.dumpEnvironments.length} pg_dump environments`;
}
