import { spawn } from 'node:child_process';
import { redact } from '../core/redact.ts';
import type { ExitStatus, RunningTool } from '../core/source.ts';

const TAIL_BYTES = 8 * 1024;

/**
 * Spawns a pg tool with exactly the environment given (nothing inherited: no AWS credentials reach it) and
 * keeps only the last few KiB of stderr, redacted, for error messages.
 */
export function spawnTool(tool: string, file: string, args: readonly string[], env: Readonly<Record<string, string>>): RunningTool {
  const child = spawn(file, args, { env: { ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = Buffer.alloc(0);
  child.stderr.on('data', (c: Buffer) => {
    tail = Buffer.concat([tail, c]);
    if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES);
  });
  let spawnError: Error | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, signal) => {
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
    pid: child.pid,
    stdout: child.stdout,
    exited,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
