import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { redact } from '../core/redact.ts';
import type { ExitStatus, RunningTool } from '../core/ports/database-source.ts';
import { openSocketOutput, readStreamInto } from './output-socket.ts';

const TAIL_LINES = 20;
const LINE_CHARS = 400;
/** Raw characters kept per line before redaction, so that a secret is redacted before the line is clipped. */
const LINE_KEEP = LINE_CHARS + 4096;

/**
 * Spawns a pg tool with exactly the environment given (nothing inherited: no AWS credentials reach it) and
 * keeps only the last lines of stderr, redacted and clipped, for error messages. Its stdout is a socket read into
 * one reused buffer (output-socket.ts); where no private socket can be made (no writable temp directory), a plain
 * pipe: slower, never a reason for a backup to fail.
 */
export async function spawnTool(
  tool: string,
  file: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<RunningTool> {
  const socket = await openSocketOutput().catch(() => undefined);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(file, args, { env: { ...env }, stdio: ['ignore', socket?.childEnd ?? 'pipe', 'pipe'] });
  } catch (err) {
    socket?.destroy();
    throw err;
  }
  // The child has its own copy now; ours must go, or the reader would never see the end of the output.
  socket?.release();
  const stdout = child.stdout;
  // The last lines, each cut to a few hundred characters: one huge line (pg_dump echoes its LOCK TABLE statement
  // with every table of the database) must not push the actual error out of the tail.
  const lines: string[] = [];
  let current = '';
  let dropped = 0;
  const endLine = (): string => {
    const red = redact(current);
    const extra = dropped + Math.max(0, red.length - LINE_CHARS);
    const line = extra > 0 ? `${red.slice(0, LINE_CHARS)} … (${extra} more characters)` : red;
    current = '';
    dropped = 0;
    return line;
  };
  const decoder = new StringDecoder('utf8');
  const take = (text: string): void => {
    const parts = text.split('\n');
    parts.forEach((piece, i) => {
      const room = Math.max(0, LINE_KEEP - current.length);
      current += piece.slice(0, room);
      dropped += Math.max(0, piece.length - room);
      if (i < parts.length - 1) {
        lines.push(endLine());
        if (lines.length > TAIL_LINES) lines.shift();
      }
    });
  };
  child.stderr?.on('data', (c: Buffer) => take(decoder.write(c)));
  let spawnError: Error | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, signal) => {
      take(decoder.end());
      const text = [...lines, endLine()].join('\n').trim();
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
    readOutput: (consume) => (socket ? socket.readOutput(consume) : readStreamInto(stdout as Readable, consume)),
    exited,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
