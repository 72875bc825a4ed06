// Child processes for test servers that cannot outlive the test process.
//
// Three layers, because each one alone leaves gaps:
// - `setpriv --pdeathsig` makes the kernel signal the server when the Node process dies for any reason,
//   SIGKILL included (it is re-applied after the credential change, so it also holds for `--reuid`);
// - a synchronous 'exit' hook (and SIGINT/SIGTERM/SIGHUP) stops servers a test forgot to stop and removes their
//   files, which pdeathsig cannot do;
// - the child and its pipes are unref'd once started, so a forgotten server never keeps a test file's process
//   alive (the runner would otherwise wait on it until its timeout).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';

export type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

export type ManagedProcess = {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  isRunning(): boolean;
  /** The last ~64 KiB of stdout+stderr, for error messages. */
  output(): string;
  /** Resolves with the output so far once `pattern` appears; rejects if the process exits first or on timeout. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Stop gracefully with `signal`, escalating to SIGKILL after `graceMs`. Idempotent. */
  stop(signal: NodeJS.Signals, graceMs: number): Promise<ExitInfo>;
  /** Let the Node process exit even while this child runs (the exit hooks still stop it). */
  unref(): void;
};

export type SpawnOptions = {
  name: string;
  env: Record<string, string>;
  cwd?: string;
  /** OS user to run as (needs root). */
  runAs?: string;
  /** Sent by the kernel to the child when this process dies. */
  deathSignal: NodeJS.Signals;
};

const OUTPUT_LIMIT = 64 * 1024;

export function spawnManaged(command: string, args: readonly string[], opts: SpawnOptions): ManagedProcess {
  const credentials = opts.runAs ? ['--reuid', opts.runAs, '--regid', opts.runAs, '--init-groups'] : [];
  const child = spawn('/usr/bin/setpriv', ['--pdeathsig', opts.deathSignal, ...credentials, '--', command, ...args], {
    env: opts.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buffer = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer): void => {
    buffer += chunk.toString('utf8');
    if (buffer.length > OUTPUT_LIMIT * 2) buffer = buffer.slice(-OUTPUT_LIMIT);
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      for (const listener of listeners) listener();
      resolve(exitInfo);
    });
    child.on('error', (error) => {
      buffer += `\n[spawn error] ${error.message}`;
      exitInfo = { code: null, signal: null };
      for (const listener of listeners) listener();
      resolve(exitInfo);
    });
  });
  const managed: ManagedProcess = {
    name: opts.name,
    get pid() {
      return child.pid ?? -1;
    },
    child,
    exited,
    isRunning: () => exitInfo === undefined && child.pid !== undefined,
    output: () => buffer.slice(-OUTPUT_LIMIT),
    waitForOutput(pattern, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(buffer)) {
            done();
            resolve(buffer);
          } else if (exitInfo !== undefined) {
            done();
            reject(new Error(`${opts.name} exited (${describeExit(exitInfo)}) before it was ready:\n${tail(buffer)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${opts.name} not ready after ${timeoutMs} ms:\n${tail(buffer)}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal, graceMs) {
      if (exitInfo !== undefined || child.pid === undefined) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    unref() {
      child.unref();
      for (const stream of [child.stdout, child.stderr]) {
        (stream as unknown as { unref?: () => void } | null)?.unref?.();
      }
    },
  };
  return managed;
}

export function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `exit code ${info.code}`;
}

export function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** True while `pid` exists and is not a zombie (an unreaped child still answers kill(pid, 0)). */
export function pidAlive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    const text = readFileSync(stat, 'utf8');
    const state = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocking sleep: only for the synchronous exit hook, where the event loop no longer runs. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Synchronously signal `pid` and wait (up to `waitMs`) until it is gone. */
export function killSync(pid: number, signal: NodeJS.Signals, waitMs: number): boolean {
  try {
    process.kill(pid, signal);
  } catch {
    return true;
  }
  const deadline = Date.now() + waitMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false;
    sleepSync(20);
  }
  return true;
}

type Cleanup = () => void;
const cleanups = new Set<Cleanup>();
let hooksInstalled = false;

function runCleanups(): void {
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Best effort at exit: one failing cleanup must not stop the others.
    }
  }
}

/** Register a synchronous cleanup run at process exit or on SIGINT/SIGTERM/SIGHUP; returns the unregister. */
export function onProcessExit(cleanup: Cleanup): () => void {
  if (!hooksInstalled) {
    hooksInstalled = true;
    process.on('exit', runCleanups);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const handler = (): void => {
        runCleanups();
        // Only take over the default action when nobody else (e.g. the test runner) handles the signal.
        if (process.listenerCount(signal) === 1) {
          process.removeListener(signal, handler);
          process.kill(process.pid, signal);
        }
      };
      process.on(signal, handler);
    }
  }
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (callers retry on EADDRINUSE). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not allocate a port'));
      });
    });
  });
}

/** Run a command to completion; rejects with its output on failure. */
export function run(
  command: string,
  args: readonly string[],
  opts: { env?: Record<string, string>; cwd?: string; input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: opts.env ?? { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} failed (${describeExit({ code, signal })}):\n${tail(out)}`));
    });
  });
}
