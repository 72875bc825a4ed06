import { AbortedError, ToolProcessError } from '../core/errors.ts';
import { restoreHint } from '../core/pg-hints.ts';
import { redact } from '../core/redact.ts';
import type { ArchiveFilters, ToolReport } from '../core/ports/database-target.ts';
import { spawnPipedTool } from './restore-process.ts';
import { dbArg, filterArgs, type RestoreSession, statusFailed } from './restore-tools.ts';

const TX_TIMEOUT_ERROR = /unrecognized configuration parameter "transaction_timeout"/;

/** pg_restore --jobs from a local file (parallel restore is not one transaction). */
export async function restoreFile(
  session: RestoreSession,

  database: string,
  file: string,
  jobs: number,
  filters: ArchiveFilters,
  signal: AbortSignal | undefined,
  options: { readonly create: boolean },
): Promise<ToolReport> {
  const env = await session.env();
  const tolerate = await session.needsTxTimeoutFilter();
  let tolerated = 0;
  const fatal: string[] = [];
  let pendingError: string | null = null;
  const onLine = (line: string): void => {
    if (pendingError !== null) {
      // An execution error is followed by "Command was: <sql>": only that exact SET may be tolerated.
      const txTimeout = tolerate && TX_TIMEOUT_ERROR.test(pendingError) && line.startsWith('Command was: SET transaction_timeout = 0;');
      if (txTimeout) tolerated++;
      else fatal.push(pendingError);
      pendingError = null;
      if (line.startsWith('Command was:')) return;
    }
    if (line.startsWith('pg_restore: error: ')) pendingError = line;
  };
  const args = [
    '--format=custom',
    `--jobs=${jobs}`,
    '--no-password',
    ...(options.create ? ['--create'] : []),
    ...filterArgs(filters),
    dbArg(database),
    file,
  ];
  const restore = spawnPipedTool('pg_restore', session.tools.pgRestore, args, env, { stdin: false, stdout: false, onStderrLine: onLine });
  const onAbort = (): void => restore.kill('SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });
  const status = await restore.exited.finally(() => signal?.removeEventListener('abort', onAbort));
  if (pendingError !== null) fatal.push(pendingError);
  if (signal?.aborted)
    throw new AbortedError(
      'restore interrupted: pg_restore was stopped; objects restored so far remain (parallel restore is not one transaction)',
    );
  // pg_restore exits 1 when it "ignored" errors: accept that only when every error was the one we expect.
  const onlyTolerated = status.code === 1 && status.signal === null && fatal.length === 0 && tolerated > 0;
  if (statusFailed(status) && !onlyTolerated) {
    throw new ToolProcessError('pg_restore', status, {
      hint: restoreHint(fatal.join('\n') || status.stderrTail),
      detail: fatal.length > 0 ? `${fatal.length} error(s), first: ${redact(fatal[0]!)}` : '',
    });
  }
  return {
    toleratedErrors: tolerated,
    filtered: [],
    notes:
      tolerated > 0
        ? [
            `tolerated ${tolerated} error(s) "unrecognized configuration parameter transaction_timeout": pg_restore ${session.tools.major} sets it, the server is older than PostgreSQL 17`,
          ]
        : [],
  };
}
