import { AbortedError, BackupToolError, ExitCode, describeError } from '../core/errors.ts';
import { escapeControl } from '../core/escape.ts';
import { TOOL_VERSION } from '../core/version.ts';
import { mainHelp } from './help.ts';
import type { CliIO } from './io.ts';
import type { Output } from './progress.ts';

type CommandFn = (argv: readonly string[], io: CliIO) => Promise<number>;

// Each command loads only its own modules: a backup never pays for restore's, and --help loads no SDK.
const COMMANDS: Record<string, CommandFn> = {
  backup: async (argv, io) => (await import('./backup-command.ts')).backupCommand(argv, io),
  list: async (argv, io) => (await import('./list-command.ts')).listCommand(argv, io),
  restore: async (argv, io) => (await import('./restore-command.ts')).restoreCommand(argv, io),
  verify: async (argv, io) => (await import('./verify-command.ts')).verifyCommand(argv, io),
  status: async (argv, io) => (await import('./status-command.ts')).statusCommand(argv, io),
};

function stream(s: NodeJS.WriteStream): Output {
  return { write: (t) => void s.write(t), isTTY: Boolean(s.isTTY) };
}

/** The live line's own "clear line" sequence (progress.ts): the only control sequence we write on purpose. */
const CLEAR_LINE = '\r\x1b[2K';

/** All output passes here: control characters from bucket content never reach the terminal raw (escape.ts). */
export function escapedOutput(out: Output): Output {
  return { write: (t) => out.write(t === CLEAR_LINE ? t : escapeControl(t)), isTTY: out.isTTY };
}

export async function main(argv: readonly string[], io?: Partial<CliIO>): Promise<number> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    // First signal: cancel cleanly (kill pg_dump, abort the upload); the second one is not intercepted.
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    controller.abort(new AbortedError(`interrupted by ${sig}: the upload was aborted and no backup was recorded`));
  };
  const full: CliIO = {
    stdout: escapedOutput(io?.stdout ?? stream(process.stdout)),
    stderr: escapedOutput(io?.stderr ?? stream(process.stderr)),
    env: io?.env ?? process.env,
    signal: io?.signal ?? controller.signal,
  };
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    full.stdout.write(mainHelp() + '\n');
    return command ? ExitCode.ok : ExitCode.usage;
  }
  if (command === '--version' || command === '-V') {
    full.stdout.write(`rds-s3-backup ${TOOL_VERSION}\n`);
    return ExitCode.ok;
  }
  const fn = COMMANDS[command];
  if (!fn) {
    full.stderr.write(`error: unknown command "${command}"\n\n${mainHelp()}\n`);
    return ExitCode.usage;
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(rest, full);
  } catch (err) {
    const e = err instanceof BackupToolError ? err : undefined;
    full.stderr.write(`error: ${describeError(err)}\n`);
    if (e?.hint) full.stderr.write(`hint: ${e.hint}\n`);
    if (!e) full.stderr.write('(this is a bug in rds-s3-backup if it is not about your environment; please report it)\n');
    if (full.signal.aborted) return ExitCode.interrupted;
    return e?.exitCode ?? ExitCode.failed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
