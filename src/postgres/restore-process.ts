import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { redact } from '../core/redact.ts';
import type { ExitStatus } from '../core/ports/database-source.ts';

const TAIL_LINES = 20;
const LINE_CHARS = 400;
/** Raw characters kept per line before redaction, so a secret is redacted before the line is clipped. */
const LINE_KEEP = LINE_CHARS + 4096;

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
  readonly onStderrLine?: ((line: string) => void) | undefined;
};

/**
 * Like spawn-tool.ts (exact environment, redacted and clipped stderr tail) but with the stdin/stdout a restore needs, and
 * every stderr line available for classification (pg_restore reports many errors and only some are fatal).
 */
export function spawnPipedTool(
  tool: string,
  file: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: PipedToolOptions,
): PipedTool {
  const child = spawn(file, args, {
    env: { ...env },
    stdio: [options.stdin ? 'pipe' : 'ignore', options.stdout ? 'pipe' : 'ignore', 'pipe'],
  });
  // The last lines, each clipped after redaction: one huge line ("Command was: CREATE FUNCTION ..." with its
  // whole body) must not push the actual error out of the tail.
  const tail: string[] = [];
  let partial = '';
  const decoder = new StringDecoder('utf8');
  const line = (raw: string): void => {
    options.onStderrLine?.(raw);
    const red = redact(raw.length > LINE_KEEP ? raw.slice(0, LINE_KEEP) : raw);
    tail.push(red.length > LINE_CHARS ? `${red.slice(0, LINE_CHARS)} … (${raw.length - LINE_CHARS} more characters)` : red);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  const take = (text: string): void => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) line(l);
  };
  child.stderr!.on('data', (c: Buffer) => take(decoder.write(c)));
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
      take(decoder.end());
      if (partial) line(partial);
      partial = '';
      const text = tail.join('\n').trim();
      const stderrTail = spawnError ? `${text}\n${redact(spawnError.message)}`.trim() : text;
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
