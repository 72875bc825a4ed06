// Runs the real CLI (bin/rds-s3-backup.js → lib/, built by `npm run build` in pretest) as a child process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/rds-s3-backup.js', import.meta.url));

export type CliResult = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; pid: number | undefined };

export type RunningCli = { pid: number | undefined; result: Promise<CliResult>; kill(sig?: NodeJS.Signals): void };

/** Environment for the child: only what the test gives plus PATH/HOME, so the host's AWS/PG settings never leak in. */
export function startCli(args: readonly string[], env: Record<string, string>): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const result = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid }));
  });
  return { pid: child.pid, result, kill: (sig = 'SIGTERM') => void child.kill(sig) };
}

export function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  return startCli(args, env).result;
}
