import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { AbortedError, ToolProcessError, UnsafeContentError, describeError } from '../core/errors.ts';
import { restoreHint } from '../core/pg-hints.ts';
import type { ArchiveFilters, GatedRestore, ToolReport } from '../core/ports/database-target.ts';
import type { ExitStatus } from '../core/ports/database-source.ts';
import { RestrictGuard, newRestrictKey } from './psql-restrict.ts';
import { spawnPipedTool } from './restore-process.ts';
import { CommitGate, TransactionTimeoutFilter } from './restore-script.ts';
import { filterArgs, killTools, type RestoreSession, spawnPsql, statusFailed } from './restore-tools.ts';

/**
 * pg_restore piped into psql through the commit gate: psql gets the final COMMIT only when commit() is called, after
 * the caller has checked the whole archive. Any tool ending on its own before that is a failure.
 */
export async function startGatedRestore(
  session: RestoreSession,

  database: string,
  filters: ArchiveFilters,
  options: { readonly singleTransaction: boolean },
): Promise<GatedRestore> {
  const appName = `rds-s3-backup-restore-${randomBytes(6).toString('hex')}`;
  const env = await session.env(appName);
  const filter = (await session.needsTxTimeoutFilter()) ? new TransactionTimeoutFilter() : null;
  // psql reads archive content: it must be in restricted mode (no meta-commands) before the first archive byte.
  const key = newRestrictKey();
  const args = [
    '--format=custom',
    '--file=-',
    `--restrict-key=${key}`,
    ...(options.singleTransaction ? ['--single-transaction'] : []),
    ...filterArgs(filters),
  ];
  const restore = spawnPipedTool('pg_restore', session.tools.pgRestore, args, env, { stdin: true, stdout: true });
  const psql = spawnPsql(session.tools, database, env, true);
  const gate = new CommitGate({ expectCommit: options.singleTransaction });
  gate.on('error', () => undefined);
  const guard = new RestrictGuard(key);
  const adapter = (await session.verifyAdapter?.()) ?? null;
  const stages = [restore.stdout!, guard, ...(filter ? [filter] : []), ...(adapter ? [adapter.stream] : []), gate, psql.stdin!];
  const piped = (pipeline as (...s: unknown[]) => Promise<void>)(...stages);

  let failWith: (e: Error) => void = () => undefined;
  const failure = new Promise<Error>((resolve) => {
    failWith = resolve;
  });
  let aborted = false;
  let committing = false;
  let inputClosed = false;
  const stdin = restore.stdin!;
  stdin.on('close', () => {
    inputClosed = true;
  });
  stdin.on('error', () => {
    inputClosed = true;
  });
  const outcome = options.singleTransaction
    ? 'nothing was committed'
    : 'objects restored before the failing statement remain (--no-single-transaction)';
  const psqlFailed = (st: ExitStatus): ToolProcessError =>
    new ToolProcessError('psql', st, {
      detail: `the restore stopped before it was complete; ${outcome}`,
      hint: restoreHint(st.stderrTail),
    });
  // pg_restore failing to write its script is a symptom of psql having stopped: psql's status says why.
  const explainRestoreFailure = async (rs: ExitStatus): Promise<ToolProcessError> => {
    if (/could not write|broken pipe|reset by peer/i.test(rs.stderrTail)) {
      const st = await Promise.race([psql.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
      if (st && statusFailed(st)) return psqlFailed(st);
    }
    return new ToolProcessError('pg_restore', rs, { hint: restoreHint(rs.stderrTail) });
  };
  // Any tool ending on its own before commit() is a failure (pg_restore may end early with 0: selective restore).
  void restore.exited.then(async (s) => {
    inputClosed = true;
    if (statusFailed(s) && !aborted) failWith(await explainRestoreFailure(s));
  });
  void psql.exited.then((st) => {
    if (!aborted && !committing) failWith(psqlFailed(st));
  });
  void piped.catch(async (err: unknown) => {
    if (aborted || committing) return;
    if (err instanceof UnsafeContentError) {
      failWith(err);
      return;
    }
    // A broken pipe is a symptom: psql (or pg_restore) ended, and its own status says why.
    const st = await Promise.race([psql.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    if (st && statusFailed(st)) failWith(psqlFailed(st));
    else
      failWith(
        new ToolProcessError(
          'pg_restore',
          { code: null, signal: null, stderrTail: describeError(err) },
          { detail: 'restore script pipeline failed' },
        ),
      );
  });

  const report = (): ToolReport => ({
    toleratedErrors: 0,
    filtered: [
      ...(filter && filter.removed > 0
        ? [`SET transaction_timeout (x${filter.removed}): the target server is older than PostgreSQL 17`]
        : []),
      ...(adapter ? adapter.describe() : []),
    ],
    notes: [],
  });

  const terminateBackend = async (): Promise<void> => {
    // psql is gone; make the server drop its session (and the transaction's locks) now rather than later.
    await session
      .withClient(database, async (c) => {
        for (let i = 0; i < 50; i++) {
          const r = await c.query<{ n: string }>(
            'select count(*)::text as n from (select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()) t',
            [appName],
          );
          if (r.rows[0]!.n === '0') return;
          await new Promise((res) => setTimeout(res, 100));
        }
      })
      .catch(() => undefined);
  };

  return {
    failure,
    write: async (chunk) => {
      if (aborted) throw new AbortedError('restore aborted');
      if (inputClosed) return;
      if (!stdin.write(chunk)) {
        // Never rejects: a closed stdin only means pg_restore stopped reading (its exit status tells why).
        // The signal removes the losing listeners (one set per blocked write would pile up otherwise).
        const done = new AbortController();
        try {
          await Promise.race([
            once(stdin, 'drain', { signal: done.signal }).catch(() => undefined),
            once(stdin, 'close', { signal: done.signal }).catch(() => undefined),
            restore.exited,
          ]);
        } finally {
          done.abort();
        }
      }
    },
    endInput: async () => {
      if (inputClosed) return;
      stdin.end();
    },
    commit: async () => {
      committing = true;
      const rs = await restore.exited;
      if (statusFailed(rs)) {
        const err = await explainRestoreFailure(rs);
        await killTools(restore, psql);
        throw err;
      }
      // psql must still be waiting for the rest of the script: if it ended, it failed (nothing committed).
      const early = await Promise.race([gate.inputEnded.then(() => null), psql.exited]);
      if (early) {
        await killTools(restore, psql);
        throw psqlFailed(early);
      }
      gate.release();
      const [ps] = await Promise.all([psql.exited, piped.catch(() => undefined)]);
      if (statusFailed(ps)) {
        throw new ToolProcessError('psql', ps, {
          detail: options.singleTransaction ? 'the transaction did not commit; the target is unchanged' : outcome,
          hint: restoreHint(ps.stderrTail),
        });
      }
      return report();
    },
    abort: async () => {
      if (aborted) return;
      aborted = true;
      failWith(new AbortedError('restore aborted'));
      await killTools(restore, psql);
      gate.destroy();
      await piped.catch(() => undefined);
      await terminateBackend();
    },
  };
}
