import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { redact } from '../core/redact.ts';
import type { ExitStatus } from '../core/source.ts';

const TAIL_BYTES = 8 * 1024;

export type PipedTool = {
  readonly tool: string;
  readonly child: ChildProcess;
  /** null unless requested. */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  /** Settles when the process exited and its stdio closed. Never rejects. */
  readonly exited: Promise<ExitStatus>;
  readonly running: () => boolean;
  kill(signal?: NodeJS.Signals): void;
};

export type PipedToolOptions = {
  readonly stdin: boolean;
  readonly stdout: boolean;
  /** Every complete stderr line (unredacted: the callback must not print it without redact()). */
  readonly onStderrLine?: (line: string) => void;
};

/**
 * Like spawn-tool.ts (exact environment, redacted stderr tail) but with the stdin/stdout a restore needs, and
 * every stderr line available for classification (pg_restore reports many errors and only some are fatal).
 */
export function spawnPipedTool(tool: string, file: string, args: readonly string[], env: Readonly<Record<string, string>>, options: PipedToolOptions): PipedTool {
  const child = spawn(file, args, { env: { ...env }, stdio: [options.stdin ? 'pipe' : 'ignore', options.stdout ? 'pipe' : 'ignore', 'pipe'] });
  let tail = Buffer.alloc(0);
  let partial = '';
  child.stderr!.on('data', (c: Buffer) => {
    tail = Buffer.concat([tail, c]);
    if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES);
    if (options.onStderrLine) {
      const lines = (partial + c.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) options.onStderrLine(l);
    }
  });
  // A child that exits early makes writes fail with EPIPE; callers learn about it from `exited`.
  child.stdin?.on('error', () => undefined);
  let spawnError: Error | undefined;
  let done = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, signal) => {
      done = true;
      if (partial && options.onStderrLine) options.onStderrLine(partial);
      const text = tail.toString('utf8');
      const stderrTail = redact(spawnError ? `${text}\n${spawnError.message}`.trim() : text)
        .split('\n')
        .slice(-20)
        .join('\n');
      resolve({ code: spawnError && code === null && signal === null ? -1 : code, signal, stderrTail });
    });
  });
  return {
    tool,
    child,
    stdin: child.stdin,
    stdout: child.stdout,
    exited,
    running: () => !done && child.exitCode === null && child.signalCode === null,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
