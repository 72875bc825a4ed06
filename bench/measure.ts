// Runs one measured process: wall time from spawn to exit (the same clock for the floor and the tool), peak RSS
// and CPU. Peak RSS per process, never summed and never mixed up:
// - a process we start directly under GNU time (pg_dump floor, pg_restore): `%M`, the kernel's ru_maxrss;
// - the tool's Node process: its own getrusage maxRSS, written at exit by a preloaded probe (GNU time would
//   report the largest of Node and its pg_dump child, not Node's own);
// - pg_dump as the tool's child: VmHWM from /proc/<pid>/status, polled every 50 ms until it exits (a high-water
//   mark, so a poll only misses growth in its last 50 ms).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RUNNER_NODE_OPTIONS } from '../src/runner/node-options.ts';
import { BENCH_CACHE } from './build.ts';

// Preloaded into the tool's Node process (`node --import`): at exit it writes the process's own peak RSS and CPU
// (getrusage(RUSAGE_SELF), children excluded) and the peaks of V8's heap and of Buffer memory, sampled every
// 100 ms, to BENCH_PROBE_OUT. Plain JavaScript on purpose: a .ts preload would load Node's type stripper
// into the measured process (+16 MiB RSS).
const PROBE_SOURCE = `import { writeFileSync } from 'node:fs';
const out = process.env.BENCH_PROBE_OUT;
if (out) {
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
  };
  setInterval(sample, 100).unref();
  process.on('exit', () => {
    sample();
    const u = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ maxRssKb: u.maxRSS, userS: u.userCPUTime / 1e6, sysS: u.systemCPUTime / 1e6, peak }));
  });
}
`;

function probeFile(): string {
  const file = path.join(BENCH_CACHE, 'probe.mjs');
  mkdirSync(BENCH_CACHE, { recursive: true });
  writeFileSync(file, PROBE_SOURCE);
  return file;
}
const GNU_TIME = '/usr/bin/time';

export type ProcessRun = {
  readonly wallS: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** 1-minute load average just before the run. */
  readonly load1: number;
};

export type TimedRun = ProcessRun & {
  readonly maxRssKb: number;
  readonly userS: number;
  readonly sysS: number;
};

type NodeProbe = {
  readonly maxRssKb: number;
  readonly userS: number;
  readonly sysS: number;
  readonly peak: { readonly rss: number; readonly heapUsed: number; readonly external: number; readonly arrayBuffers: number };
};

type ChildSeen = {
  /** Peak VmHWM (kB). */
  readonly hwmKb: number;
  /** Seconds after the spawn of the tool when the child was first / last seen (50 ms polls). */
  readonly firstS: number;
  readonly lastS: number;
};

export type ToolRun = ProcessRun & {
  readonly node: NodeProbe;
  /** Each pg tool child seen (pg_dump, pg_restore, psql, ...), by name. */
  readonly children: Readonly<Record<string, ChildSeen>>;
};

export type RunOptions = {
  readonly env: Readonly<Record<string, string>>;
  /** `taskset -c <cpus>` for the whole process tree (e.g. "1" to emulate one vCPU). */
  readonly cpus?: string | undefined;
  /** Where stdout goes: captured (default) or /dev/null. */
  readonly stdout?: 'capture' | 'devnull';
  readonly timeoutMs?: number;
};

export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

function pinned(cpus: string | undefined, argv: readonly string[]): string[] {
  return cpus === undefined ? [...argv] : ['taskset', '-c', cpus, ...argv];
}

function spawnTimed(argv: readonly string[], opts: RunOptions, onSpawn?: (pid: number) => () => void): Promise<ProcessRun> {
  const load1 = loadAverage();
  const devnull = opts.stdout === 'devnull' ? openSync('/dev/null', 'w') : undefined;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { ...opts.env },
      stdio: ['ignore', devnull ?? 'pipe', 'pipe'],
    });
    if (devnull !== undefined) closeSync(devnull);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
      if (stderr.length > 256 * 1024) stderr = stderr.slice(-128 * 1024);
    });
    const stopWatching = child.pid !== undefined && onSpawn ? onSpawn(child.pid) : undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 4 * 3600_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      stopWatching?.();
      reject(err);
    });
    child.on('close', (code, signal) => {
      const wallS = (performance.now() - t0) / 1000;
      clearTimeout(timer);
      stopWatching?.();
      resolve({ wallS, code, signal, stdout, stderr, load1 });
    });
  });
}

/** A plain program (pg_dump floor, pg_restore) under GNU time. */
export async function runTimed(argv: readonly string[], opts: RunOptions): Promise<TimedRun> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rds-s3-backup-bench-'));
  try {
    const timeFile = path.join(dir, 'time');
    const run = await spawnTimed(pinned(opts.cpus, [GNU_TIME, '-f', '%M %U %S', '-o', timeFile, ...argv]), opts);
    const [rss, user, sys] = (existsSync(timeFile) ? await readFile(timeFile, 'utf8') : '')
      .trim()
      .split('\n')
      .at(-1)!
      .split(' ')
      .map(Number);
    return { ...run, maxRssKb: rss ?? NaN, userS: user ?? NaN, sysS: sys ?? NaN };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(' ').map(Number));
    }
  } catch {
    // Gone already.
  }
  return out;
}

// The bundled tools are sh wrappers that exec the bundled dynamic loader (comm "ld-linux-x86-64"), so a
// child is named by the pg tool in its command line; exec keeps the pid and resets VmHWM to the new image.
const TOOL_NAMES = ['pg_dumpall', 'pg_dump', 'pg_restore', 'psql'] as const;

function statusOf(pid: number): { name: string; hwmKb: number } | undefined {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const name = TOOL_NAMES.find((t) => cmdline.includes(`/${t}\0`) || cmdline.endsWith(`/${t}`)) ?? 'other';
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return hwm === undefined ? undefined : { name, hwmKb: Number(hwm) };
  } catch {
    return undefined;
  }
}

/** The tool's CLI under Node with the probe preloaded; pg tool children are watched through /proc. */
export async function runTool(launcher: string, args: readonly string[], opts: RunOptions): Promise<ToolRun> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rds-s3-backup-bench-'));
  try {
    const probeOut = path.join(dir, 'probe.json');
    const children: Record<string, ChildSeen> = {};
    const watch = (pid: number): (() => void) => {
      const t0 = performance.now();
      const poll = (): void => {
        const t = (performance.now() - t0) / 1000;
        for (const child of childPids(pid)) {
          const s = statusOf(child);
          if (!s) continue;
          const seen = children[s.name];
          children[s.name] = { hwmKb: Math.max(seen?.hwmKb ?? 0, s.hwmKb), firstS: seen?.firstS ?? t, lastS: t };
        }
      };
      const timer = setInterval(poll, 50);
      return () => clearInterval(timer);
    };
    const run = await spawnTimed(
      // Started as the Lambda and the container start it (src/runner/node-options.ts).
      pinned(opts.cpus, [process.execPath, RUNNER_NODE_OPTIONS, '--import', probeFile(), launcher, ...args]),
      { ...opts, env: { ...opts.env, BENCH_PROBE_OUT: probeOut } },
      watch,
    );
    const node = existsSync(probeOut)
      ? (JSON.parse(await readFile(probeOut, 'utf8')) as NodeProbe)
      : { maxRssKb: NaN, userS: NaN, sysS: NaN, peak: { rss: NaN, heapUsed: NaN, external: NaN, arrayBuffers: NaN } };
    return { ...run, node, children };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function assertOk(what: string, run: ProcessRun): void {
  if (run.code !== 0) {
    throw new Error(
      `${what} failed (${run.signal ? `signal ${run.signal}` : `exit ${run.code}`}):\n${run.stderr.trim().split('\n').slice(-20).join('\n')}`,
    );
  }
}
