import { ToolProcessError } from '../core/errors.ts';
import { redact } from '../core/redact.ts';
import type { GlobalsReport } from '../core/ports/database-target.ts';
import { newRestrictKey, restrictedGlobalsScript } from './psql-restrict.ts';
import { TransactionTimeoutFilter } from './restore-script.ts';
import { type RestoreSession, spawnPsql, statusFailed } from './restore-tools.ts';

/**
 * The roles/tablespaces script through psql without ON_ERROR_STOP; "role already exists" is expected, the rest reported.
 * psql runs in restricted mode, and a script with meta-commands is refused before psql starts (psql-restrict.ts).
 */
export async function applyGlobals(session: RestoreSession, sql: Buffer, what = 'the globals object'): Promise<GlobalsReport> {
  const script = restrictedGlobalsScript(sql, newRestrictKey(), what);
  const env = await session.env();
  const lines: string[] = [];
  const psql = spawnPsql(session.tools, session.database ?? 'postgres', env, false, (l) => lines.push(l));
  const filter = (await session.needsTxTimeoutFilter()) ? new TransactionTimeoutFilter() : null;
  if (filter) {
    filter.pipe(psql.stdin!);
    filter.end(script);
  } else psql.stdin!.end(script);
  const status = await psql.exited;
  if (statusFailed(status)) throw new ToolProcessError('psql', status, { detail: 'applying globals' });
  const errors = lines
    .filter((l) => /\bERROR:/.test(l))
    .map((l) => redact(l.replace(/^psql:<stdin>:\d+: /, '').replace(/^psql:-:\d+: /, '')));
  const expected = errors.filter((e) => /role ".*" already exists/.test(e));
  return { expectedErrors: expected, errors: errors.filter((e) => !expected.includes(e)) };
}
